"""Users: identity, password, groups, preferences, and the doors of sign-in.

Passwords are hashed with passlib's pbkdf2_sha512 on threads of lower
priority (:mod:`erpcore.cpu`), with the rounds of the
``base.password_rounds`` setting, which the server and the command line read
from the same database; a hash made with other rounds is remade at the next
successful sign-in. Every check of a password goes through one of two doors,
each judged by a throttle (:mod:`erpcore.throttle`):

* :meth:`ResUsers._sign_in_check`, the first factor of a sign-in, for the
  sign-in page and the external API alike;
* :meth:`ResUsers._check_identity`, the password asked again before a
  sensitive action, and the current password of a password change.

Over the external API (``interactive=False``) the secret may also be an API
key (:mod:`erpcore.addons.base.models.res_users_apikeys`), and a user for
whom :meth:`_rpc_api_keys_only` is true must use one: their password, even
right, is refused there. A key never signs in through the sign-in page.

Addons hook sign-in through :meth:`_mfa_url`, :meth:`_check_credentials`,
:meth:`_rpc_api_keys_only` and :meth:`_login_values`, and react to password
changes by overriding :meth:`write`. Over the external API, an ordinary user
reads their own user record only (:meth:`_rule_domain`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from passlib.context import CryptContext

from erpcore import cpu, throttle
from erpcore.db import DriverStatement
from erpcore.http.session import end_sessions
from erpcore.orm import AccessError, Model, UserError, fields
from erpcore.throttle import Guard, Limit, login_digest, throttle_key

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

#: one login, from browsers that never signed in to it (and from the external API),
#: whatever the address: what bounds a distributed guesser (doc/security.md)
LOGIN_LIMIT = Limit(max_failures=10, base_wait=60, growth=2, max_wait=3600)
#: one login from one address: a lone guesser is stopped before the login's own limit
LOGIN_ADDRESS_LIMIT = Limit(max_failures=5, base_wait=30, growth=2, max_wait=3600)
#: one browser that signed in to the login before (a device cookie): its owner's typos only
DEVICE_LIMIT = Limit(max_failures=10, base_wait=30, growth=2, max_wait=3600)
#: one address, whatever the login; lenient, as an office shares its address
ADDRESS_LIMIT = Limit(max_failures=50, base_wait=60, growth=2, max_wait=3600)
#: the password asked again of a signed-in user, per user
IDENTITY_LIMIT = Limit(max_failures=10, base_wait=60, growth=2, max_wait=3600)


class Credential(enum.Enum):
    """What a secret given at sign-in turned out to be."""

    OK = "ok"
    WRONG = "wrong"
    #: the right password, over the external API, of a user who must use an API key there
    API_KEY_REQUIRED = "api_key_required"


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of a door: the user when the secret was right."""

    #: the user, or an empty recordset when refused
    user: ResUsers
    #: seconds to wait before the next try (a refusal, or the wait this failure started)
    wait: int = 0
    #: what the secret was; None when the throttle refused the try unchecked
    credential: Credential | None = None

    @property
    def throttled(self) -> bool:
        return self.credential is None

    @property
    def api_key_required(self) -> bool:
        """The password was right, but this user must use an API key over the external API."""
        return self.credential is Credential.API_KEY_REQUIRED


@lru_cache(maxsize=8)
def crypt_context(rounds: int) -> CryptContext:
    """Hashes of *rounds* rounds; any other rounds count as outdated, up or down."""
    return CryptContext(
        schemes=["pbkdf2_sha512"],
        pbkdf2_sha512__default_rounds=rounds,
        pbkdf2_sha512__min_rounds=rounds,
        pbkdf2_sha512__max_rounds=rounds,
    )


def _find_login_query(model: type[ResUsers]) -> DriverStatement:
    t = model._sa_table
    return DriverStatement(sa.select(t).where(
        t.c.login == sa.bindparam("login"), t.c.active == sa.true()).order_by(t.c.login).limit(1))


class ResUsers(Model):
    _name = "res.users"
    _description = "User"
    _order = "login"

    login = fields.Char("Login", required=True, index=True)
    name = fields.Char("Name", required=True)
    email = fields.Char("Email")
    #: the password hash; never the password, and never given out by a generic read
    password = fields.Char("Password", groups="base.group_system", secret=True)
    active = fields.Boolean("Active", default=True)
    lang = fields.Selection(LANGUAGES, "Language", default="fr")
    tz = fields.Selection(TIMEZONES, "Time zone", default="Europe/Paris")
    login_date = fields.Datetime("Last sign-in")
    group_ids = fields.Many2many("res.groups", "res_groups_users_rel", "uid", "gid", "Groups")

    # -- passwords ---------------------------------------------------------------

    def _crypt(self) -> CryptContext:
        return crypt_context(self.env.setting("base.password_rounds"))

    def _hash_values(self, vals: dict) -> dict:
        if vals.get("password"):
            password = vals["password"]
            if len(password) > MAX_PASSWORD_LENGTH:
                raise UserError(self.env._("The password is too long."))
            vals = {**vals, "password": cpu.run(self._crypt().hash, password)}
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
            end_sessions(self.env.conn, self.ids)
        if vals.get("password"):
            # and whoever set it (the user, an administrator) gives its sign-ins a clean slate
            key = self.env.keyring.derive("throttle")
            for user in self.sudo():
                throttle.clear(self.env.conn, login=login_digest(key, user.login), uid=user.id)
        return result

    def _check_password(self, password: str) -> bool:
        """Whether *password* is this user's; remakes a hash of other rounds.

        Slow by design (the hash): never call it inside a write transaction.
        """
        self.ensure_one()
        if not password or len(password) > MAX_PASSWORD_LENGTH:
            return False
        stored = self.sudo().password
        if not stored:
            return False
        valid, new_hash = cpu.run(self._crypt().verify_and_update, password, stored)
        if valid and new_hash:
            super(ResUsers, self.sudo()).write({"password": new_hash})
        return bool(valid)

    def _find_login(self, login: str) -> ResUsers:
        """The active user with *login*, or an empty recordset.

        One statement, built once: it reads the whole row, which the checks
        that follow (password, second factor) then find in the cache.
        """
        users = self.sudo()
        if not 0 < len(login) <= MAX_LOGIN_LENGTH:
            return users.browse()
        return users._fetch(users._statement("find_login", _find_login_query), {"login": login})

    def _check_credentials(self, secret: str, *, interactive: bool) -> Credential:
        """Whether *secret* signs this user in; *interactive*: from the sign-in page.

        Over the external API (not *interactive*), the right password of a
        user who must use API keys there (:meth:`_rpc_api_keys_only`) is
        ``API_KEY_REQUIRED``, which the door counts as a failure. The password
        is checked before that rule is applied, so that only its owner learns
        the account needs a key. (API keys themselves are checked by the door,
        before its throttle: :meth:`_sign_in_check`.) Slow (a password hash):
        never call it inside a write transaction.
        """
        self.ensure_one()
        if not self._check_password(secret):
            return Credential.WRONG
        if not interactive and self._rpc_api_keys_only():
            return Credential.API_KEY_REQUIRED
        return Credential.OK

    def _rpc_api_keys_only(self) -> bool:
        """Whether this user must use an API key over the external API, never the password.

        False here; ``auth_totp`` makes it true for users with two-factor
        authentication on (their password alone must not pass where a code
        cannot be asked), and a policy requiring 2FA may extend it further.
        """
        self.ensure_one()
        return False

    # -- the doors ---------------------------------------------------------------

    def _sign_in_guard(self, login: str, address: str, device: str | None,
                       now: float) -> Guard:
        digest = login_digest(self.env.keyring.derive("throttle"), login)
        if device:  # this browser signed in to this login before: only its own tries count
            return Guard(now, strict=[(DEVICE_LIMIT, throttle_key(
                "signin-device", login=digest, device=device))])
        # the login's own limit is strict: it bounds every guesser together, even in
        # parallel; the others are lenient, so that a few sign-ins of one login from one
        # address at once (an office, a script) are not held by their own tries in flight
        return Guard(
            now,
            strict=[(LOGIN_LIMIT, throttle_key("signin", login=digest))],
            lenient=[(LOGIN_ADDRESS_LIMIT, throttle_key("signin", login=digest, address=address)),
                     (ADDRESS_LIMIT, throttle_key("signin", address=address))],
        )

    def _sign_in_check(self, login: str, secret: str, *, address: str, now: float,
                       device: str | None = None, interactive: bool = True) -> PasswordCheck:
        """The first factor of a sign-in, page or external API: the user, or a refusal.

        Guarantees: the try is counted on the login's own limit before the
        secret is checked, and the count is committed first, so parallel tries
        cannot pass that limit and no lock is held while the password is
        hashed; an unknown login costs one hash too, so the time taken does
        not tell whether it exists.
        *device* is the id of a device cookie proving this browser signed in
        to *login* before: then only that browser's own failures can make it
        wait, whatever strangers try on the login (OWASP's device cookies).

        Over the external API (not *interactive*), a valid API key is accepted
        before the throttle counts anything, as a device cookie spares its
        browser: a key is 160 random bits, which no throttle protects better,
        and so an integration keeps working while someone guesses the
        password, and may make parallel calls. Anything else (a wrong or
        expired key, a password) goes through the guard.
        """
        users = self.sudo()
        conn = self.env.conn
        if not interactive:
            user = self._find_login(login)
            key = self.env["res.users.apikeys"]._find_key(user, secret, now) if user else None
            if key:
                key._record_use(now, address)
                return PasswordCheck(user, 0, Credential.OK)
        guard = self._sign_in_guard(login, address, device, now)
        wait = guard.admit(conn)
        if wait:
            return PasswordCheck(users.browse(), wait)
        conn.commit()
        user = self._find_login(login)
        if user:
            credential = user._check_credentials(secret, interactive=interactive)
        else:
            cpu.run(self._crypt().dummy_verify)
            credential = Credential.WRONG
        if credential is Credential.OK:
            guard.succeeded(conn)
            return PasswordCheck(user, 0, credential)
        return PasswordCheck(users.browse(), guard.failed(conn), credential)

    def _check_identity(self, password: str, *, now: float) -> PasswordCheck:
        """This signed-in user's password, asked again: the same guarantees as sign-in."""
        self.ensure_one()
        conn = self.env.conn
        guard = Guard(now, strict=[(IDENTITY_LIMIT, throttle_key("identity", uid=self.id))])
        wait = guard.admit(conn)
        if wait:
            return PasswordCheck(self.browse(), wait)
        conn.commit()
        if self._check_password(password):
            guard.succeeded(conn)
            return PasswordCheck(self, 0, Credential.OK)
        return PasswordCheck(self.browse(), guard.failed(conn), Credential.WRONG)

    def change_password(self, old: str, new: str, *, now: float) -> None:
        """Change the current user's password after checking the old one.

        :raises AccessError: the old password is wrong, or the throttle waits
            (its message says how long);
        :raises UserError: the new password does not do.
        """
        self.ensure_one()
        self._validate_new_password(new)
        check = self._check_identity(old, now=now)
        if check.throttled:
            raise AccessError(self.env._(
                "Too many failed attempts. Try again in {seconds} seconds.", seconds=check.wait))
        if not check.user:
            raise AccessError(self.env._("The current password is wrong."))
        self.env.conn.commit()  # the check's bookkeeping stands; no lock held while hashing
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

    def _rule_domain(self, operation: str) -> list:
        """An ordinary user's own record only; administrators every user."""
        rule = super()._rule_domain(operation)
        if self.env.is_admin():
            return rule
        return [*rule, ("id", "=", self.env.uid or 0)]

    def context_get(self) -> dict:
        """The current user's language, time zone and id (Odoo's ``context_get``)."""
        user = self.env.user.sudo()
        return {"lang": user.lang or "en", "tz": user.tz or "UTC", "uid": user.id}

    # -- sign-in hooks -----------------------------------------------------------

    def _mfa_url(self) -> str | None:
        """The URL of the second factor to ask after the password, or None.

        Addons that add a second factor override this; when it returns a URL,
        a correct password gives a half-signed-in session redirected there.
        """
        self.ensure_one()
        return None

    def _login_values(self, now: float) -> dict:
        """The values written on the user when a sign-in is finished (one UPDATE)."""
        return {"login_date": now}
