"""API keys: what scripts give over the external API instead of a password.

Odoo's design (``res.users.apikeys``), made stronger:

* A key is 48 hexadecimal characters: an index of 8 (32 random bits, stored
  as it is, to find the key's row) and a secret of 40 (160 random bits,
  never stored). No dictionary, no reuse, nothing to guess: 2**160 tries.
* The row holds the index and a keyed hash of the whole key: HMAC-SHA256
  with a key derived from the server's keyring (purpose ``apikey``), named
  by its id in the stored value so that ``erpcore keys rotate`` does not
  invalidate keys. A fast hash is right here: a slow one (as for passwords)
  only makes guessing a *weak* secret costly, and 160 random bits cannot be
  guessed however fast the hash; being keyed, a database dump alone cannot
  even check a candidate. The check is one HMAC, so every RPC call can
  afford it, and the comparison is constant-time (``hmac.compare_digest``).
* A key expires (1, 7, 30 or 90 days; administrators may make one that does
  not), can be revoked (its row is deleted), and stops working while its
  user is archived. It is good over the external API only, never on the
  sign-in page (:meth:`ResUsers._sign_in_check`).
* Creation and revocation are audited (:mod:`res_users_apikeys_event`) and
  logged; use is recorded on the key (last use, from where), at most once a
  minute per key, by one conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets

from erpcore.keys import SealError
from erpcore.orm import Model, UserError, fields

_logger = logging.getLogger(__name__)

INDEX_SIZE = 8
SECRET_BYTES = 20
KEY_LENGTH = INDEX_SIZE + 2 * SECRET_BYTES
KEY_RE = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}$")
#: the durations offered, in days; administrators may also choose none (no expiry)
DURATIONS = (1, 7, 30, 90)
#: the longest duration the command line accepts, in days
MAX_DAYS = 3650
MAX_NAME_LENGTH = 256
#: the last use is written again only after this many seconds (or from a new address)
USE_RESOLUTION = 60
DAY = 86400


def _keyed_hash(keyring, key: str, kid: str | None = None) -> str:
    """``KID$HEX``: the HMAC-SHA256 of *key* under the ``apikey`` key of master key *kid*."""
    kid = kid or keyring.primary
    digest = hmac.new(keyring.derive("apikey", kid), key.encode("ascii"), hashlib.sha256)
    return f"{kid}${digest.hexdigest()}"


class ResUsersApikeys(Model):
    _name = "res.users.apikeys"
    _description = "API key"
    _order = "create_date desc"

    name = fields.Char("Description", required=True, size=MAX_NAME_LENGTH)
    user_id = fields.Many2one("res.users", "User", ondelete="CASCADE", required=True)
    #: the first characters of the key: finds its row, proves nothing
    index = fields.Char("Index", size=INDEX_SIZE, required=True, index=True, secret=True)
    key_hash = fields.Char("Key hash", size=80, required=True, secret=True)
    create_date = fields.Datetime("Created on")
    #: empty: the key does not expire (administrators only)
    expires_at = fields.Datetime("Expires on")
    last_used = fields.Datetime("Last used")
    last_used_ip = fields.Char("Last used from", size=64)

    def _rule_domain(self, operation: str) -> list:
        """A user's own keys; administrators everyone's."""
        rule = super()._rule_domain(operation)
        if self.env.is_admin():
            return rule
        return [*rule, ("user_id", "=", self.env.uid or 0)]

    # -- making and checking keys ----------------------------------------------------

    def _generate(self, user, name: str, *, days: int | None, now: float,
                  actor_id: int | None = None, ip: str = "") -> tuple[ResUsersApikeys, str]:
        """A new key of *user*, named *name*, for *days* days (None: no expiry).

        Returns its record and the key itself, to be shown once: only its
        index and hash are kept.
        Who may choose which duration is the caller's business (the pages
        offer :data:`DURATIONS`, and no expiry to administrators).

        :raises UserError: the name or the duration does not do.
        """
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_NAME_LENGTH:
            raise UserError(self.env._("Describe the key in 1 to 256 characters."))
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                 or not 1 <= days <= MAX_DAYS):
            raise UserError(self.env._("A key lasts 1 to {n} days.", n=MAX_DAYS))
        key = secrets.token_hex(INDEX_SIZE // 2) + secrets.token_hex(SECRET_BYTES)
        record = self.sudo().create({
            "name": name, "user_id": user.id, "index": key[:INDEX_SIZE],
            "key_hash": _keyed_hash(self.env.keyring, key), "create_date": now,
            "expires_at": now + days * DAY if days else None,
        })
        self.env["res.users.apikeys.event"].record(
            user.id, "created", record, now=now, actor_id=actor_id, ip=ip,
            detail=f"{days} days" if days else "no expiry")
        _logger.info("API key %s created for user %s by %s", record.id, user.id,
                     actor_id or "the command line")
        record._notify_created(now=now, actor_id=actor_id, ip=ip, days=days)
        return record, key

    def _find_key(self, user, secret: str, now: float) -> ResUsersApikeys:
        """The unexpired key of *user* that *secret* is, or an empty recordset.

        Fast (one indexed read and an HMAC per row sharing the index), so it
        may run before any throttle; leading and trailing blanks are ignored
        (a key read from a file keeps its newline).
        """
        keys = self.sudo()
        if not isinstance(secret, str) or len(secret) > 100:
            return keys.browse()
        key = secret.strip().lower()
        if not KEY_RE.match(key):
            return keys.browse()
        candidates = keys.search([
            ("user_id", "=", user.id), ("index", "=", key[:INDEX_SIZE]),
            "|", ("expires_at", "=", None), ("expires_at", ">", now),
        ])
        found = keys.browse()
        for candidate in candidates:
            kid, _, _digest = candidate.key_hash.partition("$")
            try:
                expected = _keyed_hash(self.env.keyring, key, kid)
            except SealError:  # a master key the keyring no longer holds
                _logger.error("API key %s: its hash was made with key %s, which the keyring "
                              "does not hold", candidate.id, kid)
                continue
            if hmac.compare_digest(expected.encode(), candidate.key_hash.encode()):
                found = candidate
        return found

    def _record_use(self, now: float, ip: str) -> None:
        """Write when and from where the key was last used: one conditional UPDATE,
        done at most once a minute per key and address (no queue of writers)."""
        self.ensure_one()
        written = self.sudo()._write_if(
            ["|", "|", ("last_used", "=", None), ("last_used", "<", now - USE_RESOLUTION),
             ("last_used_ip", "!=", ip[:64])],
            {"last_used": now, "last_used_ip": ip[:64]})
        if written:
            _logger.info("API key %s of user %s used from %s", self.id,
                         self.sudo().user_id.id, ip or "?")

    def _revoke(self, *, now: float, actor_id: int | None = None, ip: str = "") -> int:
        """Delete these keys (each by one conditional DELETE, so a key revoked twice
        at once is audited once); returns how many this call revoked."""
        done = 0
        for key in self.sudo().exists():
            name, owner = key.name, key.user_id.id
            if key._unlink_once():
                done += 1
                self.env["res.users.apikeys.event"].record(
                    owner, "revoked", key, now=now, actor_id=actor_id, ip=ip, name=name)
        return done

    def _notify_created(self, *, now: float, actor_id: int | None, ip: str,
                        days: int | None) -> None:
        """Tell the key's owner, by mail, that a key was made for their account.

        Queued in the transaction that makes the key (``mail.mail``), with its
        description, duration, who made it and from where: never the key.
        """
        owner = self.user_id.sudo()
        if actor_id and actor_id != owner.id:
            by = self.env["res.users"].sudo().browse(actor_id).name
        else:
            by = "" if actor_id else "cli"
        self.env["mail.mail"]._queue(owner, "base.apikey_created", "base.mail_apikey_created", {
            "at": now, "ip": ip[:64], "name": self.name, "days": days or 0, "by": by,
        }, now=now)

    # -- showing keys ------------------------------------------------------------------

    def _owned_by(self, user_id: int) -> ResUsersApikeys:
        return self.sudo().search([("user_id", "=", user_id)])

    def _expired(self, now: float) -> bool:
        self.ensure_one()
        expires = self.expires_at
        return bool(expires) and dt.datetime.fromtimestamp(now, dt.UTC).replace(tzinfo=None) \
            >= expires
