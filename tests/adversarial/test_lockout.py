"""Guessing the password, and keeping the owner out: the sign-in page's throttle.

A stranger types wrong passwords for ``admin``, from one address or from a
new one each time (the server runs behind a proxy and believes
``X-Forwarded-For``). They must get a bounded number of guesses a day, and
the real administrator, from a browser that signed in before, must get in at
the first try all along. Time is the injected clock; the numbers are printed
in the terminal summary and stated in ``doc/security.md``.
"""

from __future__ import annotations

import pytest

from erpcore.addons.base.models.res_users import (
    DEVICE_LIMIT,
    LOGIN_ADDRESS_LIMIT,
    LOGIN_LIMIT,
)
from erpcore.http import devices
from erpcore.throttle import Limit
from tests.adversarial.attack import assert_clean, wait_of
from tests.adversarial.conftest import MEASURED
from tests.support import ADMIN_PASSWORD, Client

DAY = 86400


def designed_guesses(limits: list[Limit], seconds: float) -> int:
    """The guesses *limits* (counted together on every guess) allow in *seconds* to an
    attacker who tries again the moment a wait ends: computed from the limits alone."""
    elapsed, guesses = 0.0, 0
    while elapsed < seconds:
        guesses += 1
        elapsed += max(limit.wait_after(guesses) for limit in limits)
    return guesses


def from_address(erp, address: str, cookies=None) -> Client:
    client = erp.client(**{"X-Forwarded-For": address, "Accept-Language": "en"})
    if cookies is not None:
        client.session.cookies.update(cookies)
    return client


def signs_in(response) -> bool:
    return response.status_code == 200 and response.url.endswith("/web")


@pytest.fixture
def exposed(make_erp, backend):
    """A server behind a proxy, and the administrator's own browser, which signed in
    once (so it holds a device cookie) and signed out."""
    erp = make_erp(backend, proxy_mode=True)
    owner = from_address(erp, "192.0.2.10")
    assert signs_in(owner.login("admin", ADMIN_PASSWORD))
    assert owner.cookie(devices.COOKIE)
    owner.post("/web/session/logout", from_page="/web")
    return erp, owner


def attack_for_a_day(erp, owner: Client, address_of) -> int:
    """Wrong passwords for admin, each from ``address_of(n)``, for a day; the owner signs
    in at the first try every hour. Returns the guesses the server checked."""
    start = erp.clock()
    checked = n = 0
    next_visit = 0.0
    while erp.clock() - start < DAY:
        n += 1
        assert n <= 500, "no wait ever came"
        response = from_address(erp, address_of(n)).login("admin", f"guess-{n}")
        assert_clean(response)
        if response.status_code == 429:  # told to wait: waits exactly that long
            erp.clock.advance(wait_of(response))
            continue
        assert "Wrong login or password." in response.text
        checked += 1
        if erp.clock() - start >= next_visit:  # meanwhile, the real administrator
            visit = from_address(erp, f"192.0.2.{10 + n % 200}", owner.session.cookies)
            assert signs_in(visit.login("admin", ADMIN_PASSWORD)), "the owner was kept out"
            next_visit += 3600
    return checked


def test_strangers_from_many_addresses_cannot_keep_the_owner_out(exposed, backend):
    erp, owner = exposed
    checked = attack_for_a_day(erp, owner, lambda n: f"198.51.{n // 256 % 256}.{n % 256}")
    assert checked == designed_guesses([LOGIN_LIMIT], DAY)
    # an unknown browser is held by the login's limit: what bounds the attacker
    stranger = from_address(erp, "203.0.113.200")
    for _ in range(LOGIN_LIMIT.max_failures):
        stranger.login("admin", "wrong")
    assert stranger.login("admin", ADMIN_PASSWORD).status_code == 429
    # while the owner's browser still gets in, and a device cookie proves nothing for
    # another login
    assert signs_in(from_address(erp, "192.0.2.99", owner.session.cookies)
                    .login("admin", ADMIN_PASSWORD))
    borrowed = from_address(erp, "203.0.113.201", owner.session.cookies)
    for _ in range(LOGIN_LIMIT.max_failures):
        borrowed.login("demo", "wrong")
    assert borrowed.login("demo", "still-wrong").status_code == 429
    MEASURED.setdefault(backend, {})["password guesses per day on admin, many addresses"] = \
        checked


def test_a_stranger_from_one_address_is_stopped_sooner(exposed, backend):
    erp, owner = exposed
    checked = attack_for_a_day(erp, owner, lambda n: "198.51.100.7")
    assert checked == designed_guesses([LOGIN_ADDRESS_LIMIT, LOGIN_LIMIT], DAY)
    MEASURED.setdefault(backend, {})["password guesses per day on admin, one address"] = \
        checked


def test_the_owners_browser_has_a_limit_of_its_own(exposed):
    """A device cookie is no free pass: typos from the owner's browser are throttled too,
    on their own counter (a stolen cookie gets DEVICE_LIMIT's guesses, nothing more)."""
    erp, owner = exposed
    for _ in range(DEVICE_LIMIT.max_failures):
        from_address(erp, "192.0.2.50", owner.session.cookies).login("admin", "typo")
    refused = from_address(erp, "192.0.2.51", owner.session.cookies).login(
        "admin", ADMIN_PASSWORD)
    assert refused.status_code == 429 and wait_of(refused) == DEVICE_LIMIT.base_wait
    # and that counter is the browser's alone: a stranger's browser is not held by it
    assert signs_in(from_address(erp, "198.51.100.1").login("admin", ADMIN_PASSWORD))
