"""``erpcore serve --workers N``: N gunicorn processes, on SQLite too.

On PostgreSQL workers are the intended deployment (test_two_servers runs
them). On a SQLite file they work safely: WAL, a busy timeout and
``BEGIN IMMEDIATE`` make concurrent writers queue instead of failing, and
the replay check stays exact. What cannot work is refused in one line.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import USER_PASSWORD, Client
from tests.workers.flows import (
    accepted,
    create_2fa_user,
    fresh_code,
    half_signed,
    on_code_page,
    race,
    totp_state,
)
from tests.workers.processes import run_erpcore


def test_two_workers_on_sqlite_sign_in_in_parallel_and_accept_a_code_once(deploy):
    deployment = deploy("sqlite", ("auth_totp",))
    server = deployment.start(workers=2)
    assert len(server.wait_workers(2)) == 2
    secrets = {f"lite{i}": create_2fa_user(deployment.server, f"lite{i}") for i in range(2)}

    def prepare(login: str) -> tuple[Client, str, str]:
        client = half_signed(server.url, login)
        return client, server.url, on_code_page(client, server.url)

    def plain_sign_in(_: int) -> tuple[int, str]:
        client = Client(server.url)
        response = client.login("demo", USER_PASSWORD)
        return response.status_code, client.path()

    def burst() -> list[tuple[int, str]]:
        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(plain_sign_in, range(12)))

    with ThreadPoolExecutor(8) as pool:
        jobs = {login: list(pool.map(prepare, [login] * 6)) for login in secrets}
    codes = {login: fresh_code(secret) for login, secret in secrets.items()}
    # the races and a burst of plain sign-ins, all writing to the database at once
    with ThreadPoolExecutor(3) as pool:
        plain = pool.submit(burst)
        races = {login: pool.submit(race, jobs[login], codes[login][0]) for login in secrets}
        assert plain.result() == [(200, "/web")] * 12
        for login, future in races.items():
            responses = future.result()
            assert sum(accepted(r) for r in responses) == 1, [r.status_code for r in responses]
            assert {r.status_code for r in responses if not accepted(r)} <= {401, 429}
            assert totp_state(deployment.server, login)["last_step"] == codes[login][1]
    assert "Traceback" not in server.output()


@pytest.mark.parametrize("options, message", [
    (["--workers", "2", "--db", "sqlite://"], "an in-memory SQLite database cannot be served: "
     "use a database file or PostgreSQL"),
    (["--workers", "-1"], "--workers must be 0 (one process) or more, not -1"),
], ids=["in-memory-sqlite", "negative-workers"])
def test_what_workers_cannot_share_is_refused_in_one_line(tmp_path, options, message):
    result = run_erpcore("serve", *options, "--data-dir", str(tmp_path / "data"),
                         "--log-level", "warning")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"erpcore: error: {message}"], result.stderr
    # refused before anything is made: no database, no administrator password printed
    assert result.stdout == ""
    assert not (tmp_path / "data" / "erpcore.sqlite3").exists()
