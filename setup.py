"""The conventional shim: every piece of metadata is in pyproject.toml."""

from setuptools import setup

setup()
