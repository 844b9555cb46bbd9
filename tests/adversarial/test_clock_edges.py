"""The window at its edges, with the clock set to the millisecond.

A code of step ``c`` is valid while the server's step is ``c - 1``, ``c`` or
``c + 1``: from ``(c - 1) * 30`` included to ``(c + 2) * 30`` excluded.
"""

from __future__ import annotations

import pytest

from auth_totp import totp
from tests.adversarial.attack import (
    enable,
    half_signed_in,
    reset_last_step,
    send_code,
    signed_in,
)
from tests.support_totp import error_text

P = totp.PERIOD


@pytest.fixture
def edge(erp2fa, handed_out):
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    base = (totp.step_at(erp.clock()) + 100) * P  # a step boundary in the near future

    def accepted(at: float, step: int) -> bool:
        """Whether the code of *step* signs in when the server's clock reads *at*."""
        reset_last_step(erp, "demo")  # each probe starts with no step used
        erp.clock.set(at)
        response = send_code(half_signed_in(erp), totp.code_at_step(secret, step))
        if not signed_in(response):
            assert response.status_code == 401, response.status_code
            assert "clock" in error_text(response)  # refused, with the drift hint
        return signed_in(response)

    return base, accepted


def test_previous_current_and_next_step_accepted_two_away_refused(edge):
    base, accepted = edge
    for offset in (-0.001, 0.0, 29.999):  # just before, at, and at the end of a step
        at = base + offset
        now = totp.step_at(at)
        assert not accepted(at, now - 2), offset
        assert not accepted(at, now + 2), offset
        for step in (now - 1, now, now + 1):
            assert accepted(at, step), (offset, step - now)


def test_a_code_is_valid_exactly_from_one_step_before_to_one_step_after(edge):
    base, accepted = edge
    step = totp.step_at(base) + 1  # the code of the step starting at base + 30
    first, end = (step - 1) * P, (step + 2) * P
    assert not accepted(first - 0.001, step)
    assert accepted(first, step)
    assert accepted(end - 0.001, step)
    assert not accepted(end, step)
