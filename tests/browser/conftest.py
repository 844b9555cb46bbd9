"""Browser fixtures: Debian's Chromium driven by Playwright, one browser per module.

The browser is never downloaded: it is ``/usr/bin/chromium`` (Debian's package).
Without it the tests are skipped on a developer's machine and fail under
``CI=true``, as :func:`tests.conftest.require_postgres` does for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: the width of a desktop screen and of a small phone, in CSS pixels
WIDE, NARROW = 1280, 375



def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium is needed at {CHROMIUM} (Debian package 'chromium')"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium for the whole module; each test opens its own contexts."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: the server's time in the stories: fixed, so that the dates on the screenshots are too
STORY_TIME = 1_898_843_400.0  # 2030-03-04 08:30 UTC


@pytest.fixture
def same_pictures(monkeypatch):
    """Fixed TOTP secrets and recovery codes for the screenshots, which are committed.

    Only for the stories that take screenshots: the server runs in this process,
    so the secret of the setup page and the recovery codes come from a seeded
    generator instead of :mod:`secrets`, and the same QR code and codes are drawn
    at every run. Call ``erp.clock.set(STORY_TIME)`` too. Throwaway values: the
    pictures show them to everyone.
    """
    import random

    from auth_totp import totp
    from auth_totp.models import auth_totp_recovery_code

    seeded = random.Random(5)  # noqa: S311 - pictures, not security
    monkeypatch.setattr(totp, "generate_secret",
                        lambda: bytes(seeded.getrandbits(8) for _ in range(totp.SECRET_BYTES)))
    monkeypatch.setattr(auth_totp_recovery_code, "secrets", seeded)


@pytest.fixture
def open_context(browser) -> Iterator:
    """``open_context(erp, locale)`` -> a fresh browser profile (cookies, language) on *erp*.

    The locale sets ``Accept-Language``, so the pages come in that language
    until the user's own preference takes over.
    """
    contexts = []

    def make(erp, locale: str = "fr-FR"):
        context = browser.new_context(
            base_url=erp.url, locale=locale, timezone_id="Europe/Paris",
            viewport={"width": WIDE, "height": 800}, device_scale_factor=1,
            accept_downloads=True, color_scheme="light", reduced_motion="reduce")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
