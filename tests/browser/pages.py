"""What a person does with the pages, and the screenshots that illustrate the guides.

Screenshots go to ``doc/img/NAME-WIDTH.png``, at a desktop width and at a
phone's, one CSS pixel per image pixel, reduced to a small palette so they stay
small in the repository. When the served guide uses an image
(``auth_totp/static/doc/img/``, see ``tools/build_guides.py``), that copy is
refreshed too, so the guide and its images never disagree.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import zxingcpp
from PIL import Image

from tests.browser.conftest import NARROW, WIDE

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "doc" / "img"
SERVED_IMG = ROOT / "auth_totp" / "static" / "doc" / "img"
CODE_RE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")


#: the elements that stick out on the right of a viewport *width* wide, to say what to fix
_TOO_WIDE = """width => Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + (e.className ? '.' + String(e.className).trim().replace(/ +/g, '.') : ''))"""


def _small_png(data: bytes) -> bytes:
    """The screenshot with at most 64 colours: a fraction of the size, no visible loss."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def shoot(page, name: str, widths: tuple[int, ...] = (WIDE, NARROW)) -> None:
    """Screenshot the whole page at each width; the page must fit the width (no sideways
    scrolling), then the viewport goes back to the desktop width."""
    IMG.mkdir(parents=True, exist_ok=True)
    for width in widths:
        # a short viewport, so that the full-page image ends where the page does
        page.set_viewport_size({"width": width, "height": 360})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, (f"{name} is {overflow} px wide at {width} px: "
                                   f"{page.evaluate(_TOO_WIDE, width)}")
        png = _small_png(page.screenshot(full_page=True, animations="disabled", caret="hide"))
        filename = f"{name}-{width}.png"
        (IMG / filename).write_bytes(png)
        if (SERVED_IMG / filename).exists():
            (SERVED_IMG / filename).write_bytes(png)
    page.set_viewport_size({"width": WIDE, "height": 720})


def read_qr(page) -> str:
    """Decode the QR code as a phone's camera would: from the pixels on the screen."""
    image = Image.open(io.BytesIO(page.locator("img.qr").screenshot()))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, f"{len(found)} barcodes on the setup page"
    return found[0].text


def sign_in(page, login: str, password: str) -> None:
    """The sign-in form, filled and sent; the caller checks where it leads."""
    page.goto("/web/login")
    page.fill("#login", login)
    page.fill("#password", password)
    with page.expect_navigation():
        page.locator("#password").press("Enter")


def press(page, key: str) -> None:
    """Press *key* on the keyboard where the focus is, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press(key)


def open_user_menu(page, entry: str) -> None:
    """Open the user menu in the top bar and choose *entry* in it."""
    menu = page.locator("details.usermenu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    menu.locator("nav").get_by_text(entry, exact=True).click()
    page.wait_for_load_state()


def path_of(page) -> str:
    """The path and query of the page, without the server's address."""
    return re.sub(r"^https?://[^/]+", "", page.url)
