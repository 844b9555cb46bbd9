"""Fixtures of the server tests."""

from __future__ import annotations

import pytest

from tests.server.helpers import TEST_ADDONS


@pytest.fixture
def addon_erp(make_erp, backend):
    """A live server (SQLite, then PostgreSQL) that can see the test addons."""
    return make_erp(backend, addons_path=[TEST_ADDONS])
