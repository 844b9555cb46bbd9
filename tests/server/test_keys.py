"""Encrypted fields (AES-256-GCM bound to database, table, row and field) and key rotation."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from erpcore.cli.builtin import rotate_keys
from erpcore.keys import Keyring, SealError
from erpcore.orm.environment import Environment
from tests.server.helpers import install, run_cli
from tests.support import table_dump

SECRETS = ["JBSWY3DPEHPK3PXP-first-secret", "KRSXG5CTMVRXEZLU-second-secret"]


def raw(erp, column: str = "secret") -> dict[int, str | None]:
    with erp.server.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT id, {column} FROM test_feature_note").all()
        return dict(rows)


def set_raw(erp, rid: int, column: str, value: str) -> None:
    with erp.server.transaction() as conn:
        conn.execute(sa.text(f"UPDATE test_feature_note SET {column} = :v WHERE id = :id"),
                     {"v": value, "id": rid})


def read(erp, rid: int, field: str = "secret"):
    with erp.env() as env:
        return getattr(env["test.feature.note"].browse(rid), field)


def test_encrypted_values_are_aes_256_gcm_bound_to_their_place(addon_erp):
    install(addon_erp, "test_feature")
    with addon_erp.env() as env:
        first = env["test.feature.note"].create({"name": "a", "secret": SECRETS[0],
                                                 "other_secret": SECRETS[1]}).id
        second = env["test.feature.note"].create({"name": "b"}).id
        database_uuid = env.registry.database_uuid
    assert read(addon_erp, first) == SECRETS[0] and read(addon_erp, second) is False

    # an independent check of the format: AES-256-GCM, key id in the value, and the
    # associated data naming database, table, row and field
    stored = raw(addon_erp)[first]
    prefix, kid, payload = stored.split("$")
    assert prefix == "v1" and kid == addon_erp.server.keyring.primary
    assert len(kid) == 8 and int(kid, 16) >= 0  # a random id, never a counter
    blob = base64.urlsafe_b64decode(payload)
    key = addon_erp.server.keyring.derive("field-encryption")
    assert len(key) == 32
    where = f"{database_uuid}|test_feature_note|{first}|secret"
    assert AESGCM(key).decrypt(blob[:12], blob[12:], where.encode()).decode() == SECRETS[0]
    elsewhere = f"another-database|test_feature_note|{first}|secret"
    with pytest.raises(SealError):
        addon_erp.server.keyring.unseal(stored, elsewhere)

    set_raw(addon_erp, second, "secret", stored)  # copied to another row
    assert read(addon_erp, second) is False
    set_raw(addon_erp, first, "other_secret", stored)  # copied to another field
    assert read(addon_erp, first, "other_secret") is False
    tampered = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    set_raw(addon_erp, first, "secret", tampered)
    assert read(addon_erp, first) is False

    dump = str(table_dump(addon_erp.server))
    assert not any(secret in dump for secret in SECRETS)
    if addon_erp.backend == "sqlite":
        data_dir = addon_erp.server.config.data_dir
        for path in data_dir.glob("erpcore.sqlite3*"):  # the database, its WAL and index
            content = path.read_bytes()
            assert not any(secret.encode() in content for secret in SECRETS), path.name


def test_keys_rotate_reseals_every_value_in_one_transaction(addon_erp, monkeypatch):
    install(addon_erp, "test_feature")
    with addon_erp.env() as env:
        ids = [env["test.feature.note"].create({"name": str(n), "secret": f"{secret}-{n}",
                                                "other_secret": f"other-{n}"}).id
               for n, secret in enumerate(SECRETS)]
    before = raw(addon_erp)

    calls = []

    def failing_seal(self, value, record, field):
        calls.append(field.name)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return original(self, value, record, field)

    original = Environment.seal
    monkeypatch.setattr(Environment, "seal", failing_seal)
    with pytest.raises(RuntimeError):
        rotate_keys(addon_erp.server)
    monkeypatch.setattr(Environment, "seal", original)
    assert raw(addon_erp) == before  # nothing half re-sealed
    assert read(addon_erp, ids[1]) == f"{SECRETS[1]}-1"

    config = addon_erp.server.config
    result = run_cli("keys", "rotate", data_dir=config.data_dir, db_url=config.db_url)
    assert result.returncode == 0, result.stderr
    keyring = Keyring.load(config.keyring_path)
    assert result.stdout.strip() == f"new primary key {keyring.primary}; 4 values re-encrypted"
    assert len(keyring.keys) == 3  # the first, the one of the failed rotation, the new one
    for column in ("secret", "other_secret"):
        sealed = [raw(addon_erp, column)[rid] for rid in ids]
        assert all(value.startswith(f"v1${keyring.primary}$") for value in sealed)
    # the running server opens values sealed with a key it had not loaded yet
    for n, rid in enumerate(ids):
        assert read(addon_erp, rid) == f"{SECRETS[n]}-{n}"
        assert read(addon_erp, rid, "other_secret") == f"other-{n}"
