"""The settings of auth_totp (see :mod:`erpcore.settings`; ``erpcore config get|set``)."""

from erpcore.settings import Setting

ISSUER = Setting(
    "auth_totp.issuer", str, default="", env="ERPCORE_TOTP_ISSUER",
    help="the name authenticator apps show for this server; empty: the company name")

TRUSTED_DEVICE_DAYS = Setting(
    "auth_totp.trusted_device_days", int, default=90, minimum=0, maximum=3650,
    help="days a trusted browser skips the code; 0 turns trusted browsers off")

#: who must use 2FA; changed with ``erpcore 2fa policy`` or Paramètres, which record who
#: changed it and start the grace period of the users it newly covers
POLICY = Setting(
    "auth_totp.policy", str, default="optional", choices=("optional", "admins", "all"),
    command="erpcore 2fa policy",
    help="who must use 2FA: optional, admins (administrators) or all (every user)")

GRACE_HOURS = Setting(
    "auth_totp.grace_hours", int, default=48, minimum=0, maximum=8760,
    command="erpcore 2fa policy --grace-hours",
    help="hours a user the policy newly covers may still sign in without 2FA; 0: none")
