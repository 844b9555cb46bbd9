"""What the adversarial tests share: the live URL map, database states, attacker moves."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass

import requests
from werkzeug.routing import Rule

from auth_totp import totp
from erpcore.http.controllers import Routing
from tests.support import EXTERNAL_API, USER_PASSWORD, Client, table_dump
from tests.support_totp import enable_totp, password_step

WAIT_RE = re.compile(r"Try again in (\d+) seconds")
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/')
#: tables whose rows a refused attempt legitimately changes: the failure counters
THROTTLE_TABLE = "ir_throttle"
#: audit events a refused attempt legitimately adds (DESIGN section 6: every failure is logged)
FAILURE_EVENTS = ("failure", "reuse", "lockout")


# -- the live URL map -------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    rule: Rule
    routing: Routing

    @property
    def methods(self) -> list[str]:
        """The methods to try: the rule's own, or GET and POST when it takes any."""
        methods = self.rule.methods or {"GET", "POST"}
        return sorted(m for m in methods if m not in ("HEAD", "OPTIONS"))

    def path(self, ids: dict[str, int], default_id: int) -> str:
        """The rule with each converter replaced by a real value (an id for ``int``)."""

        def value(match: re.Match) -> str:
            converter, name = match.group(1) or "default", match.group(2)
            if converter in ("int", "float"):
                return str(ids.get(name, default_id))
            return "x"

        return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", value, self.rule.rule)


def live_routes(erp) -> list[Route]:
    """Every route of the running server, read from its URL map (new routes included)."""
    with erp.server.environment() as env:
        registry = env.registry
        return [Route(rule, registry.endpoints[rule.endpoint][2])
                for rule in registry.url_map.iter_rules()]


# -- database states ----------------------------------------------------------------


def state(erp, *, throttles: bool = True, failure_events: bool = True,
          anonymous_sessions: bool = True) -> dict:
    """Every row of every table, to compare before and after an attack.

    What a refusal legitimately writes can be left out: *throttles=False* the
    failure counters, *failure_events=False* the audit rows of refused codes,
    *anonymous_sessions=False* the sessions holding only a CSRF secret (a visit
    to the sign-in page makes one).
    """
    dump = table_dump(erp.server)
    if not throttles:
        dump.pop(THROTTLE_TABLE, None)
    with erp.server.engine.connect() as conn:
        if not failure_events and "auth_totp_event" in dump:
            rows = conn.exec_driver_sql(
                "SELECT id, user_id, actor_id, event, ip, detail FROM auth_totp_event").all()
            dump["auth_totp_event"] = sorted(
                repr(tuple(row)) for row in rows if row.event not in FAILURE_EVENTS)
        if not anonymous_sessions:
            rows = conn.exec_driver_sql("SELECT sid_hash, data, uid FROM http_session").all()
            dump["http_session"] = sorted(
                repr(tuple(row)) for row in rows
                if row.uid is not None or "pre_uid" in json.loads(row.data))
    return dump


def assert_form_post_refused(route: Route, response: requests.Response) -> None:
    """A form posted to *route* did nothing: a 403, or for the external API its refusal."""
    if route.rule.rule not in EXTERNAL_API:
        assert response.status_code == 403, (route.rule.rule, response.status_code)
    elif response.status_code == 200:  # XML-RPC answers every call, a refusal with a fault
        assert "<fault>" in response.text, response.text[:300]
    else:  # JSON wanted; or a half-signed-in session, sent to its code page first
        assert response.status_code in (303, 415), (route.rule.rule, response.status_code)


def assert_clean(response: requests.Response) -> None:
    """Never a server error, never a traceback."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    for marker in TRACEBACK_MARKERS:
        assert marker not in response.text, response.text[:2000]


# -- users and secrets ------------------------------------------------------------------


def enable(erp, login: str, handed_out) -> bytes:
    """Turn 2FA on for *login* (model level) and remember the secret as handed out."""
    secret = enable_totp(erp, login)
    handed_out.add_totp_secret(secret)
    return secret


def user_id(erp, login: str) -> int:
    with erp.server.environment() as env:
        return env["res.users"].search([("login", "=", login)]).id


def create_user(erp, login: str, password: str, *, admin: bool = False) -> int:
    with erp.server.environment() as env:
        groups = [env.ref("base.group_user").id]
        if admin:
            groups.append(env.ref("base.group_system").id)
        return env["res.users"].create({"login": login, "name": login, "password": password,
                                        "group_ids": groups}).id


def reset_last_step(erp, login: str) -> None:
    """Forget the last accepted step, so a test can accept an earlier code again."""
    with erp.server.environment() as env:
        env["res.users"].search([("login", "=", login)]).write({"totp_last_step": 0})


def wrong_code(secret: bytes, now: float, rng: random.Random) -> str:
    """Six digits that match no step near *now* (not even as a clock-drift hint)."""
    while True:
        guess = f"{rng.randrange(10**6):06d}"
        if totp.match(secret, guess, now, window=totp.DRIFT_LIMIT) is None:
            return guess


def wait_of(response: requests.Response) -> int:
    """The wait a refusal announces, in seconds (0 when none)."""
    found = WAIT_RE.findall(response.text)
    return int(found[-1]) if found else 0


# -- attacker moves -------------------------------------------------------------------


def half_signed_in(erp, login: str = "demo", password: str = USER_PASSWORD,
                   **headers: str) -> Client:
    """A fresh client whose password step is done: it sits on the code page."""
    client = erp.client(**{"Accept-Language": "en", **headers})
    password_step(client, login, password)
    return client


def send_code(client: Client, value: str, **extra: str) -> requests.Response:
    """Submit *value* on the code page the client is on, without following the answer."""
    return client.post("/web/login/totp", {"totp_token": value, **extra},
                       allow_redirects=False)


def signed_in(response: requests.Response) -> bool:
    return response.status_code == 303 and response.headers["Location"].endswith("/web")
