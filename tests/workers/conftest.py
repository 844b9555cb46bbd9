"""Fixtures of the worker tests: deployments of real ``erpcore serve`` processes.

A deployment is one database (cloned from the session's templates) and the
server processes started on it; they share one keyring, as servers sharing
a database must. ``own_postgres`` is a PostgreSQL cluster of the tests' own,
which they may stop and start without disturbing anyone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from erpcore.config import Config
from erpcore.server import Server
from tests.conftest import IN_CI, require_postgres
from tests.support import drop_clone
from tests.workers.processes import PostgresCluster, ServerProcess, postgres_bin


class Deployment:
    """One database and the ``erpcore serve`` processes running on it."""

    def __init__(self, config: Config, folder: Path):
        self.config = config
        self.folder = folder
        self.processes: list[ServerProcess] = []
        self._server: Server | None = None

    @property
    def db_url(self) -> str:
        """The ``--db`` option of the servers; empty for SQLite in the first data dir."""
        return self.config.db_url

    def start(self, workers: int = 2, wait: bool = True, extra: tuple[str, ...] = (),
              extra_env: dict[str, str] | None = None) -> ServerProcess:
        """Start one more server, with its own data directory holding the same keyring
        (and *extra* options, *extra_env* in its environment)."""
        if not self.processes or not self.db_url:  # SQLite: the database is in the data dir
            data_dir = self.config.data_dir
        else:
            data_dir = self.folder / f"server-{len(self.processes)}"
            data_dir.mkdir(mode=0o700)
            shutil.copy(self.config.keyring_path, data_dir / "keyring.json")
            (data_dir / "keyring.json").chmod(0o600)
        process = ServerProcess(data_dir, self.db_url, workers, list(extra), extra_env)
        self.processes.append(process)
        return process.wait_ready() if wait else process

    @property
    def server(self) -> Server:
        """The database seen from the test process, to prepare data and check invariants."""
        if self._server is None:
            self._server = Server(self.config)
        return self._server

    def stop(self) -> None:
        for process in self.processes:  # all at once: each takes a second or two
            process.interrupt()
        for process in self.processes:
            process.stop()
        if self._server is not None:
            self._server.dispose()


@contextmanager
def deployments(templates, folder: Path) -> Iterator:
    """A factory ``make(backend, addons=())`` -> :class:`Deployment` (no server yet).

    On exit every server is stopped and every database dropped.
    """
    made: list[Deployment] = []

    def make(backend: str, addons: tuple[str, ...] = ()) -> Deployment:
        if backend == "postgresql":
            require_postgres()
        template = templates(backend, tuple(addons))
        where = folder / f"deployment-{len(made)}"
        deployment = Deployment(template.clone(where / "server-0"), where)
        made.append(deployment)
        return deployment

    try:
        yield make
    finally:
        for deployment in made:
            try:
                deployment.stop()
            finally:
                drop_clone(deployment.config)


@pytest.fixture
def deploy(templates, tmp_path) -> Iterator:
    """Deployments for one test: ``deploy(backend, addons=())``."""
    with deployments(templates, tmp_path) as make:
        yield make


@pytest.fixture(scope="module")
def deploy_for_module(templates, tmp_path_factory) -> Iterator:
    """Deployments shared by the tests of one module (servers take seconds to start)."""
    with deployments(templates, tmp_path_factory.mktemp("workers")) as make:
        yield make


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresCluster]:
    """A running PostgreSQL cluster private to the tests of one module."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL's initdb and pg_ctl are needed (apt install postgresql)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
