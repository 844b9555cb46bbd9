"""Guessing the code: how many guesses an attacker who knows the password really gets.

The attacker uses a fresh session and a new client IP for every guess (the
server runs behind a proxy and believes ``X-Forwarded-For``), so only the
per-account throttle can stop them. Time is the injected clock: an hour and
a day pass in a few seconds. The numbers are printed in the terminal summary
and in ``doc/security.md``.
"""

from __future__ import annotations

import random

import pytest

from auth_totp.controllers.login import ACCOUNT_LIMIT, ADDRESS_LIMIT
from erpcore.throttle import Limit
from tests.adversarial.attack import (
    assert_clean,
    create_user,
    enable,
    half_signed_in,
    send_code,
    signed_in,
    wait_of,
    wrong_code,
)
from tests.adversarial.conftest import MEASURED
from tests.support_totp import code

HOUR, DAY = 3600, 86400
#: a guess matches one of the three codes valid at any instant
P_GUESS = 3 / 10**6


def designed_tries(throttle: Limit, seconds: float) -> int:
    """The tries *throttle* allows in *seconds* to an attacker who never waits longer
    than told: the designed number, computed from the throttle's own parameters."""
    elapsed, tries = 0.0, 0
    while elapsed < seconds:
        tries += 1
        elapsed += throttle.wait_after(tries)
    return tries


def attacker_ip(n: int) -> str:
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def guess(erp, n: int, value: str):
    """One guess from a fresh session and a new IP: password step, then the code."""
    client = half_signed_in(erp, **{"X-Forwarded-For": attacker_ip(n)})
    response = send_code(client, value)
    assert_clean(response)
    return response


@pytest.fixture
def exposed(make_erp, backend, handed_out):
    """A server behind a proxy, and demo's secret (the attacker has the password)."""
    erp = make_erp(backend, addons=("auth_totp",), proxy_mode=True)
    return erp, enable(erp, "demo", handed_out)


def test_150_wrong_codes_in_an_hour_from_fresh_sessions_and_ips(exposed, backend):
    erp, secret = exposed
    rng = random.Random(150)
    evaluated = refused = right_refused = 0
    for n in range(150):
        response = guess(erp, n, wrong_code(secret, erp.clock(), rng))
        assert response.status_code in (401, 429), response.status_code
        if response.status_code == 401:
            evaluated += 1
        else:
            refused += 1
            assert wait_of(response) > 0  # a refusal says how long to wait
            if refused % 10 == 1:  # while the wait runs, the right code is refused too
                right = guess(erp, 10_000 + n, code(secret, erp))
                assert right.status_code == 429 and not signed_in(right)
                right_refused += 1
        erp.clock.advance(HOUR / 150)
    assert evaluated <= designed_tries(ACCOUNT_LIMIT, HOUR)
    assert refused == 150 - evaluated and right_refused >= 5
    MEASURED.setdefault(backend, {})["150 wrong codes in 1 h, codes checked"] = evaluated


def test_guesses_per_hour_and_per_day_for_an_attacker_who_waits_exactly(exposed, backend,
                                                                        capsys):
    """The best attacker: guesses again the moment the announced wait is over."""
    erp, secret = exposed
    rng = random.Random(86400)
    start = erp.clock()
    checked: list[float] = []
    n = 0
    while erp.clock() - start < DAY:
        n += 1
        # (a throttle that never waits would keep the clock still: stop well past the design)
        assert n <= 2 * designed_tries(ACCOUNT_LIMIT, DAY), "no wait ever came"
        response = guess(erp, n, wrong_code(secret, erp.clock(), rng))
        assert response.status_code == 401, "an attacker who waits as told is never refused"
        checked.append(erp.clock() - start)
        wait = wait_of(response)
        if wait:
            erp.clock.advance(wait / 2)
            right = guess(erp, 10**6 + n, code(secret, erp))
            assert right.status_code == 429 and not signed_in(right), "right code let in"
            erp.clock.advance(wait - wait / 2)
    per_hour = sum(1 for t in checked if t < HOUR)
    per_day = len(checked)
    later_hour = sum(1 for t in checked if DAY - HOUR <= t < DAY)
    assert per_hour == designed_tries(ACCOUNT_LIMIT, HOUR) == 11
    assert per_day == designed_tries(ACCOUNT_LIMIT, DAY) == 34
    assert later_hour <= 1
    # the wait is over: the owner of the account still gets in
    assert signed_in(guess(erp, 0, code(secret, erp)))
    chance = 1 - (1 - P_GUESS) ** per_day
    MEASURED.setdefault(backend, {}).update({
        "guesses in the first hour": per_hour, "per hour afterwards": later_hour,
        "guesses per day": per_day, "chance per day": f"{chance:.1e}",
    })
    with capsys.disabled():
        print(f"\n[{backend}] 2FA brute force: {per_hour} guesses in the first hour, "
              f"{later_hour} per hour afterwards, {per_day} per day; "
              f"chance of guessing a code in a day = {chance:.1e}")


def victims(erp, handed_out) -> dict[str, tuple[str, bytes]]:
    """Enough accounts with 2FA to reach the per-IP limit with 4 guesses each."""
    per_account = ACCOUNT_LIMIT.max_failures - 1
    found = {}
    for i in range(-(-ADDRESS_LIMIT.max_failures // per_account)):
        login, password = f"victim{i}", f"victim-pass-{i}"
        create_user(erp, login, password)
        found[login] = (password, enable(erp, login, handed_out))
    return found


def spread_guesses(erp, accounts, ips) -> None:
    """ADDRESS_LIMIT.max_failures wrong codes, at most 4 per account (never an account wait)."""
    rng = random.Random(20)
    per_account = ACCOUNT_LIMIT.max_failures - 1
    plan = [login for login in accounts for _ in range(per_account)]
    for n, login in enumerate(plan[:ADDRESS_LIMIT.max_failures]):
        password, secret = accounts[login]
        client = half_signed_in(erp, login, password, **{"X-Forwarded-For": ips(n)})
        assert send_code(client, wrong_code(secret, erp.clock(), rng)).status_code == 401


def test_per_ip_limit_across_accounts(make_erp, handed_out):
    """One IP spreading its guesses over many accounts, under each account's limit,
    meets the per-IP limit; another IP still gets in."""
    erp = make_erp("sqlite", addons=("auth_totp",), proxy_mode=True)
    accounts = victims(erp, handed_out)
    spread_guesses(erp, accounts, lambda n: "192.0.2.7")
    password, secret = accounts["victim1"]
    client = half_signed_in(erp, "victim1", password, **{"X-Forwarded-For": "192.0.2.7"})
    refused = send_code(client, code(secret, erp))
    assert refused.status_code == 429 and wait_of(refused) > 0
    client = half_signed_in(erp, "victim1", password, **{"X-Forwarded-For": "192.0.2.8"})
    assert signed_in(send_code(client, code(secret, erp)))


def test_without_proxy_mode_x_forwarded_for_is_ignored(make_erp, handed_out):
    """A direct client changing X-Forwarded-For keeps its one per-IP counter."""
    erp = make_erp("sqlite", addons=("auth_totp",))
    accounts = victims(erp, handed_out)
    spread_guesses(erp, accounts, attacker_ip)
    password, secret = accounts["victim1"]
    client = half_signed_in(erp, "victim1", password, **{"X-Forwarded-For": attacker_ip(999)})
    assert send_code(client, code(secret, erp)).status_code == 429


def test_recovery_mode_shares_the_account_counter(erp2fa, handed_out):
    """Switching to recovery codes does not give a fresh set of tries, nor does the
    right TOTP code pass once recovery-code guesses started the wait."""
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    for n in range(ACCOUNT_LIMIT.max_failures):
        client = half_signed_in(erp)
        response = send_code(client, f"AAAA-BBBB-CCCC-{n:04d}", mode="recovery")
        assert response.status_code == 401
    assert wait_of(response) == ACCOUNT_LIMIT.base_wait
    client = half_signed_in(erp)
    assert send_code(client, code(secret, erp)).status_code == 429
