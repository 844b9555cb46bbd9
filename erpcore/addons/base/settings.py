"""The settings of the base addon (see :mod:`erpcore.settings`)."""

from erpcore.settings import Setting

COMPANY_NAME = Setting(
    "base.company_name", str, default="My Company",
    help="the company's name, shown at the top of every page")

PASSWORD_ROUNDS = Setting(
    "base.password_rounds", int, default=600_000, minimum=1000, maximum=10_000_000,
    help="pbkdf2_sha512 rounds of password hashes; a hash with other rounds is "
         "remade at its user's next sign-in")
# No environment variable overrides the rounds: the server and the command line must
# hash alike, or the time a wrong password takes tells which logins exist.
