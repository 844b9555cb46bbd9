"""Timing: codes and tokens are compared in constant time, never with ``==``.

Two views of one property. At run time, ``hmac.compare_digest`` is wrapped
to record its operands while real requests go through the live server: the
submitted code and CSRF token must be among them. In the source, no ``==``
or ``!=`` may compare a code, token or secret held in Python (comparisons
inside SQL, on SHA-256 digests of recovery codes, browser tokens and session
ids, leak nothing useful: the digest of a guess is unrelated to the digest of
the secret).
"""

from __future__ import annotations

import ast
import hmac
import re
import threading
from pathlib import Path

from tests.adversarial.attack import enable, half_signed_in, send_code, signed_in
from tests.support_totp import code

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = re.compile(r"code|token|secret|csrf|otp|digest", re.IGNORECASE)


def test_codes_and_csrf_tokens_go_through_compare_digest(erp2fa_sqlite, handed_out,
                                                         monkeypatch):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    seen: list[tuple[bytes, bytes]] = []
    guard = threading.Lock()
    original = hmac.compare_digest

    def recording(a, b):
        with guard:
            seen.append((bytes(a) if not isinstance(a, str) else a.encode(),
                         bytes(b) if not isinstance(b, str) else b.encode()))
        return original(a, b)

    client = half_signed_in(erp)
    token = client.csrf()
    monkeypatch.setattr(hmac, "compare_digest", recording)
    wrong = "000000" if code(secret, erp) != "000000" else "111111"
    assert send_code(client, wrong).status_code == 401
    compared = [pair for pair in seen if wrong.encode() in pair]
    assert len(compared) >= 3, "the wrong code was not compared in constant time"
    assert any(token.encode() in pair for pair in seen), "the CSRF token was compared with =="
    seen.clear()
    right = code(secret, erp)
    assert signed_in(send_code(client, right))
    assert any(right.encode() in pair for pair in seen)


def python_files() -> list[Path]:
    return sorted(p for folder in ("erpcore", "auth_totp") for p in (ROOT / folder).rglob("*.py"))


def equality_on_secrets(path: Path) -> list[str]:
    """``a == b`` / ``a != b`` where a side names a code, token or secret, and no side is a
    literal or a module constant (comparing with ``"recovery"``, ``503`` or
    ``URLENCODED`` is not comparing secrets)."""
    source = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) or (isinstance(o, ast.Name) and o.id.isupper())
               for o in operands):
            continue
        text = ast.get_source_segment(source, node) or ""
        if ".c." in text:  # a SQL expression, evaluated by the database on digests
            continue
        if SECRET_WORDS.search(text):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text}")
    return found


def test_no_equality_operator_compares_a_secret():
    files = python_files()
    assert len(files) > 30
    offenders = [hit for path in files for hit in equality_on_secrets(path)]
    assert offenders == []
