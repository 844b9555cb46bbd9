"""Fixtures of the server tests."""

from __future__ import annotations

import pytest

from erpcore.server import Server
from tests.server.helpers import TEST_ADDONS
from tests.support import LiveServer


@pytest.fixture
def addon_erp(make_erp, backend):
    """A live server (SQLite, then PostgreSQL) that can see the test addons."""
    return make_erp(backend, addons_path=[TEST_ADDONS])


@pytest.fixture
def second_worker():
    """``second_worker(erp)``: another server process's stand-in on the same database.

    It shares nothing with *erp* but the database, the keyring file and the
    clock, as a second worker or machine would.
    """
    started: list[LiveServer] = []

    def make(erp) -> str:
        live = LiveServer(Server(erp.server.config, clock=erp.clock))
        started.append(live)
        return live.url

    yield make
    for live in started:
        live.stop()
