"""The settings of auth_totp (see :mod:`erpcore.settings`; ``erpcore config get|set``)."""

from erpcore.settings import Setting

ISSUER = Setting(
    "auth_totp.issuer", str, default="", env="ERPCORE_TOTP_ISSUER",
    help="the name authenticator apps show for this server; empty: the company name")

TRUSTED_DEVICE_DAYS = Setting(
    "auth_totp.trusted_device_days", int, default=90, minimum=0, maximum=3650,
    help="days a trusted browser skips the code; 0 turns trusted browsers off")
