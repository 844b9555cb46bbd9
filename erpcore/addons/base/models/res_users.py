"""Users: identity, password, groups, preferences, and the hooks of sign-in.

Passwords are hashed with passlib's pbkdf2_sha512 (rounds from the
configuration); a hash made with fewer rounds than configured is upgraded at
the next successful sign-in. Addons hook sign-in through :meth:`_mfa_url`
and react to password changes by overriding :meth:`write`.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import sqlalchemy as sa
from passlib.context import CryptContext

from erpcore.db import session_table
from erpcore.orm import AccessError, Model, UserError, fields

#: languages the interface offers
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIMEZONES = [("UTC", "UTC"), ("Europe/Paris", "Europe/Paris"), ("Europe/Brussels",
             "Europe/Brussels"), ("Europe/Zurich", "Europe/Zurich"), ("America/Montreal",
             "America/Montreal"), ("Africa/Casablanca", "Africa/Casablanca")]
MAX_PASSWORD_LENGTH = 4096
MAX_LOGIN_LENGTH = 128
MIN_PASSWORD_LENGTH = 8
MAX_EMAIL_LENGTH = 254
#: an address SMTP takes as it is: ASCII, one @, a dotted domain of letters, digits, dashes
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def valid_email(address: str) -> bool:
    """Whether *address* is one plain mail address (``name@example.com``)."""
    return (isinstance(address, str) and len(address) <= MAX_EMAIL_LENGTH
            and len(address.partition("@")[0]) <= 64 and _EMAIL_RE.fullmatch(address) is not None)


@lru_cache(maxsize=8)
def crypt_context(rounds: int) -> CryptContext:
    return CryptContext(
        schemes=["pbkdf2_sha512"],
        pbkdf2_sha512__default_rounds=rounds,
        pbkdf2_sha512__min_rounds=rounds,
    )


class ResUsers(Model):
    _name = "res.users"
    _description = "User"
    _order = "login"

    login = fields.Char("Login", required=True, index=True)
    name = fields.Char("Name", required=True)
    email = fields.Char("Email")
    #: the password hash; never the password
    password = fields.Char("Password", groups="base.group_system")
    active = fields.Boolean("Active", default=True)
    lang = fields.Selection(LANGUAGES, "Language", default="fr")
    tz = fields.Selection(TIMEZONES, "Time zone", default="Europe/Paris")
    login_date = fields.Datetime("Last sign-in")
    group_ids = fields.Many2many("res.groups", "res_groups_users_rel", "uid", "gid", "Groups")

    # -- passwords ---------------------------------------------------------------

    def _crypt(self) -> CryptContext:
        return crypt_context(self.env.config.password_rounds)

    def _hash_values(self, vals: dict) -> dict:
        if vals.get("password"):
            password = vals["password"]
            if len(password) > MAX_PASSWORD_LENGTH:
                raise UserError(self.env._("The password is too long."))
            vals = {**vals, "password": self._crypt().hash(password)}
        return vals

    def _check_login(self, vals: dict) -> None:
        login = vals.get("login")
        if login is None:
            return
        login = str(login).strip()
        if not login or len(login) > MAX_LOGIN_LENGTH or any(ch.isspace() for ch in login):
            raise UserError(self.env._("A login is 1 to 128 characters, without spaces."))
        existing = self.sudo().search([("login", "=", login)])
        if existing and existing.ids != self.ids:
            raise UserError(self.env._("This login is already used."))

    def _check_email(self, vals: dict) -> None:
        """Refuse an address mail could not go to (empty means none)."""
        address = vals.get("email")
        if address and not valid_email(address):
            raise UserError(self.env._("This email address is not valid."))

    def create(self, vals: dict) -> ResUsers:
        self._check_login(vals)
        self._check_email(vals)
        return super().create(self._hash_values(vals))

    def write(self, vals: dict) -> bool:
        if "login" in vals:
            for user in self:
                user._check_login(vals)
        self._check_email(vals)
        result = super().write(self._hash_values(vals))
        if vals.get("password") or vals.get("active") is False:
            # a new password or an archived account signs the user out everywhere
            self.env.conn.execute(sa.delete(session_table).where(session_table.c.uid.in_(self.ids)))
        return result

    def _check_password(self, password: str) -> bool:
        """Whether *password* is this user's; upgrades an outdated hash."""
        self.ensure_one()
        if not password or len(password) > MAX_PASSWORD_LENGTH:
            return False
        stored = self.sudo().password
        if not stored:
            return False
        context = self._crypt()
        valid, new_hash = context.verify_and_update(password, stored)
        if valid and new_hash:
            super(ResUsers, self.sudo()).write({"password": new_hash})
        return bool(valid)

    def _authenticate(self, login: str, password: str) -> ResUsers:
        """The active user with *login* and *password*, or an empty recordset.

        An unknown login still costs one hash, so the time taken does not tell
        whether the login exists.
        """
        users = self.sudo()
        user = users.search([("login", "=", login), ("active", "=", True)], limit=1) \
            if 0 < len(login) <= MAX_LOGIN_LENGTH else users.browse()
        if not user:
            self._crypt().dummy_verify()
            return user
        return user if user._check_password(password) else users.browse()

    def change_password(self, old: str, new: str) -> None:
        """Change the current user's password after checking the old one."""
        self.ensure_one()
        if not self._check_password(old):
            raise AccessError(self.env._("The current password is wrong."))
        self._validate_new_password(new)
        self.sudo().write({"password": new})

    def _validate_new_password(self, new: str) -> None:
        if len(new) < MIN_PASSWORD_LENGTH:
            raise UserError(self.env._("A password has at least {n} characters.",
                                       n=MIN_PASSWORD_LENGTH))
        if len(new) > MAX_PASSWORD_LENGTH:
            raise UserError(self.env._("The password is too long."))

    # -- groups ------------------------------------------------------------------

    def _is_admin(self) -> bool:
        self.ensure_one()
        return self.env.ref("base.group_system") in self.sudo().group_ids

    # -- sign-in hooks -----------------------------------------------------------

    def _mfa_url(self) -> str | None:
        """The URL of the second factor to ask after the password, or None.

        Addons that add a second factor override this; when it returns a URL,
        a correct password gives a half-signed-in session redirected there.
        """
        self.ensure_one()
        return None

    def _on_login(self, now: float) -> None:
        """Called when the user is fully signed in."""
        self.sudo().write({"login_date": dt.datetime.fromtimestamp(now, dt.UTC)})
