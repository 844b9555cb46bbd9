"""Fixtures shared by every test folder.

``erp`` is the fixture most tests want: a live server on a fresh database,
once on SQLite and once on PostgreSQL. Under ``CI=true`` a test that needs
PostgreSQL or Chromium fails when the component is missing instead of
being skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from erpcore.server import Server
from tests.support import (
    Client,
    Clock,
    LiveServer,
    Template,
    drop_clone,
    pg_base_url,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


def require_postgres() -> None:
    if pg_base_url() is None:
        message = "PostgreSQL is needed: set ERPCORE_TEST_PG (tests/run starts one)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Iterator[dict]:
    """Initialised databases to clone, built on first use, keyed by (backend, addons)."""
    cache: dict[tuple[str, tuple[str, ...]], Template] = {}

    def get(backend: str, addons: tuple[str, ...]) -> Template:
        key = (backend, addons)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"tmpl-{backend}-{'-'.join(addons) or 'core'}")
            template = Template(backend, addons, folder)
            template.build()
            cache[key] = template
        return cache[key]

    yield get
    for template in cache.values():
        template.drop()


@dataclass
class Erp:
    """A running server on a fresh database, with its clock and helpers."""

    server: Server
    live: LiveServer
    clock: Clock
    backend: str

    @property
    def url(self) -> str:
        return self.live.url

    def client(self, **headers: str) -> Client:
        return Client(self.url, headers=headers)

    def env(self):
        return self.server.environment()


@pytest.fixture
def make_erp(templates, tmp_path) -> Iterator:
    """A factory: ``make_erp(backend, addons=(), proxy_mode=False)`` -> :class:`Erp`."""
    started: list[Erp] = []

    def make(backend: str = "sqlite", addons: tuple[str, ...] = (), **config_overrides) -> Erp:
        if backend == "postgresql":
            require_postgres()
        template = templates(backend, tuple(addons))
        config = template.clone(tmp_path / f"data-{len(started)}")
        for key, value in config_overrides.items():
            setattr(config, key, value)
        clock = Clock()
        server = Server(config, clock=clock)
        erp = Erp(server, LiveServer(server), clock, backend)
        started.append(erp)
        return erp

    yield make
    for erp in started:
        erp.live.stop()
        drop_clone(erp.server.config)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def erp(make_erp, backend) -> Erp:
    """A live server with base and web, on SQLite then on PostgreSQL."""
    return make_erp(backend)


@pytest.fixture
def captured_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def erp2fa(make_erp, backend) -> Erp:
    """A live server with auth_totp installed, on SQLite then on PostgreSQL."""
    return make_erp(backend, addons=("auth_totp",))
