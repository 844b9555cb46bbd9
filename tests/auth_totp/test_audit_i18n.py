"""The audit trail and the translations."""

from pathlib import Path

import pytest
from lxml import html

import auth_totp
import erpcore.addons.base
import erpcore.addons.web
from erpcore import i18n
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import code, enable_totp, password_step, recovery_codes_for, submit_code


def test_events_are_recorded_and_readable_by_administrators(make_erp, backend):
    erp = make_erp(backend, addons=("auth_totp",), proxy_mode=True)
    secret = enable_totp(erp, "demo")
    codes = recovery_codes_for(erp, "demo")
    client = erp.client(**{"X-Forwarded-For": "198.51.100.7"})
    password_step(client, "demo", USER_PASSWORD)
    value = code(secret, erp)
    submit_code(client, "000000" if value != "000000" else "111111")
    submit_code(client, value, remember=True)
    client.post("/web/session/logout", from_page="/web")
    other = erp.client(**{"X-Forwarded-For": "198.51.100.8"})
    password_step(other, "demo", USER_PASSWORD)
    submit_code(other, value)  # reuse
    submit_code(other, codes[0])
    admin = erp.client(**{"Accept-Language": "fr"})
    admin.login("admin", ADMIN_PASSWORD)
    page = html.fromstring(admin.get("/auth_totp/audit?login=demo").content)
    rows = page.xpath("//table[@id='audit-events']/tbody/tr")
    events = [row.get("data-event") for row in rows]
    assert events == ["recovery_used", "reuse", "device_trusted", "success", "failure"]
    cells = [c.text_content().strip() for c in rows[-1].xpath("td")]
    assert cells[1] == "demo" and cells[2] == "Code incorrect" and cells[4] == "198.51.100.7"
    assert cells[0]  # the time, in the user's zone
    text = page.text_content()
    assert value not in text and codes[0] not in text
    # ordinary users cannot read it
    plain = erp.client()
    password_step(plain, "demo", USER_PASSWORD)
    erp.clock.advance(30)
    submit_code(plain, code(secret, erp))
    assert plain.get("/auth_totp/audit").status_code == 403


@pytest.mark.parametrize("package", [auth_totp, erpcore.addons.web, erpcore.addons.base])
def test_catalogues_are_complete_and_current(package):
    problems = i18n.problems(Path(package.__file__).parent)
    assert problems == []
