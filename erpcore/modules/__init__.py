"""Addons: finding them, reading their manifests, installing and uninstalling them."""
