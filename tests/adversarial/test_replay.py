"""Replay: a code, or a recovery code, is accepted once, even when sent in parallel."""

from __future__ import annotations

import threading

from auth_totp.controllers.login import ACCOUNT_LIMIT
from tests.adversarial.attack import (
    enable,
    half_signed_in,
    send_code,
    signed_in,
)
from tests.support import USER_PASSWORD
from tests.support_totp import activate_through_pages, code, error_text, recovery_codes_for

PARALLEL = 6


def test_a_code_is_accepted_once_across_sessions(erp2fa, handed_out):
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    now_code = code(secret, erp)
    assert signed_in(send_code(half_signed_in(erp), now_code))
    again = send_code(half_signed_in(erp), now_code)
    assert again.status_code == 401 and "already used" in error_text(again)
    # an earlier code of the window is older than the one accepted: refused as well
    earlier = send_code(half_signed_in(erp), code(secret, erp, -1))
    assert earlier.status_code == 401 and not signed_in(earlier)
    # the next step's code is new: accepted
    assert signed_in(send_code(half_signed_in(erp), code(secret, erp, +1)))


def test_the_activation_code_cannot_sign_in(erp2fa, handed_out):
    erp = erp2fa
    client = erp.client(**{"Accept-Language": "en"})
    client.login("demo", USER_PASSWORD)
    secret, _codes = activate_through_pages(client, erp, USER_PASSWORD)
    client.post("/web/session/logout", from_page="/web/session/logout")
    replay = send_code(half_signed_in(erp), code(secret, erp))
    assert replay.status_code == 401 and "already used" in error_text(replay)


def race(clients, value: str, **extra: str) -> list:
    """Send *value* from every client at the same instant; the answers, in order."""
    tokens = [client.csrf() for client in clients]
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def send(i: int) -> None:
        barrier.wait()
        answers[i] = clients[i].post("/web/login/totp", {"totp_token": value, **extra},
                                     csrf=tokens[i], allow_redirects=False)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_one_code_sent_in_parallel_signs_in_once(erp2fa, handed_out):
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    clients = [half_signed_in(erp) for _ in range(PARALLEL)]
    answers = race(clients, code(secret, erp))
    assert sum(signed_in(a) for a in answers) == 1, [a.status_code for a in answers]
    assert all(a.status_code in (303, 401, 429) for a in answers)


def test_one_recovery_code_sent_in_parallel_signs_in_once(erp2fa, handed_out):
    erp = erp2fa
    enable(erp, "demo", handed_out)
    recovery = recovery_codes_for(erp, "demo")
    for value in recovery:
        handed_out.add_recovery_code(value)
    clients = [half_signed_in(erp) for _ in range(PARALLEL)]
    answers = race(clients, recovery[0], mode="recovery")
    assert sum(signed_in(a) for a in answers) == 1, [a.status_code for a in answers]
    # and once used, it never works again (past the wait the losers' failures started)
    erp.clock.advance(ACCOUNT_LIMIT.max_wait)
    again = send_code(half_signed_in(erp), recovery[0], mode="recovery")
    assert again.status_code == 401 and "already used" in error_text(again)
