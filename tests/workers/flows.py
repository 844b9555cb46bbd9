"""Sign-in flows against server processes, and 2FA users prepared in the database.

The servers run on real time: codes here are computed from ``time.time()``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from auth_totp import totp
from erpcore.server import Server
from tests.support import USER_PASSWORD, Client
from tests.support_totp import password_step


def create_2fa_user(server: Server, login: str) -> bytes:
    """A new user with 2FA on (and ten recovery codes); returns the secret.

    Activated with a code of the previous step, so that the current one is free.
    """
    before = time.time() - totp.PERIOD
    with server.environment() as env:
        user = env["res.users"].create({
            "login": login, "name": login, "password": USER_PASSWORD,
            "group_ids": [env.ref("base.group_user").id],
        })
        wizard = env["auth_totp.wizard"].start(user.id, before)
        secret = totp.from_base32(wizard.secret)
        assert user._totp_enable(wizard, totp.code_at(secret, before), before)
        env["auth_totp.recovery_code"].generate(user.id)
    return secret


def fresh_code(secret: bytes) -> tuple[str, int]:
    """The current code and its step, waiting out the last second of a step.

    So that every submission of a race is checked within the code's window.
    """
    if time.time() % totp.PERIOD > totp.PERIOD - 2:
        time.sleep(totp.PERIOD - time.time() % totp.PERIOD + 0.1)
    now = time.time()
    return totp.code_at(secret, now), totp.step_at(now)


def half_signed(url: str, login: str) -> Client:
    """A new browser that typed *login*'s password on *url* and waits on the code page."""
    client = Client(url)
    password_step(client, login, USER_PASSWORD)
    return client


def on_code_page(client: Client, url: str) -> str:
    """Open the code page of the server at *url* with *client*'s cookies; its CSRF token."""
    client.base = url
    return client.csrf("/web/login/totp")


def accepted(response: requests.Response) -> bool:
    """Whether a code submission signed the browser in (it lands on the home page)."""
    return response.status_code == 200 and response.url.split("?")[0].endswith("/web")


def race(jobs: list[tuple[Client, str, str]], code: str) -> list[requests.Response]:
    """Send *code* from every (client, url, csrf token) at once; the responses, in order."""
    barrier = threading.Barrier(len(jobs), timeout=60)

    def submit(job: tuple[Client, str, str]) -> requests.Response:
        client, url, token = job
        client.base = url
        barrier.wait()
        return client.post("/web/login/totp", {"totp_token": code}, csrf=token)

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(submit, jobs))


def totp_state(server: Server, login: str) -> dict:
    """What the database says of *login*'s 2FA, read without the ORM's caches."""
    with server.environment() as env:
        user = env["res.users"].search([("login", "=", login)])
        codes = env["auth_totp.recovery_code"].search_count([("user_id", "=", user.id)])
        return {
            "secret": bool(user.totp_secret),
            "enabled_at": isinstance(user.totp_enabled_at, dt.datetime),
            "recovery_codes": codes,
            "last_step": user.totp_last_step,
        }
