"""Running the HTTP server: waitress in every mode, one process or N (gunicorn's arbiter).

Why waitress: a client that stalls must not take anyone's access away.
waitress reads each request, headers and body, on its own event loop and
hands it to a thread only once it is complete, so a connection that sends
its body one byte at a time (or never) holds no thread and no database
connection, only one of ``http_connection_limit`` sockets, and is closed
after ``http_timeout`` seconds of silence. Measured against a hello WSGI app
(doc/benchmarks.md): gunicorn's gthread worker and Werkzeug's development
server freeze behind a few stalled connections; waitress does not.

* ``--workers 0``: one process, ``http_threads`` threads.
* ``--workers N``: gunicorn's arbiter forks N processes and replaces any that
  dies; each runs waitress on the shared listening socket
  (:class:`WaitressWorker`), with the same limits.

Workers share nothing but the database: sessions, throttles, replay counters
and the installed addons are all read from it at each request, so any worker
(or any server on another port or machine, with the same keyring) can serve
any request. With PostgreSQL that is the intended deployment; SQLite works
too on a local disk. An in-memory SQLite database would be a different one in
each connection, and is refused.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from typing import Any

import waitress
from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker

from erpcore.config import Config
from erpcore.http.app import Application
from erpcore.mail import start_mail_delivery
from erpcore.server import Server, ServerError

_logger = logging.getLogger(__name__)

#: the largest request head (request line and headers) accepted, in bytes
MAX_HEADER_SIZE = 64 * 1024


def check_port(host: str, port: int) -> None:
    """Fail with one clear line when the port cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServerError(f"port {port} on {host} is already in use") from exc
            raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def check_deployment(server: Server) -> None:
    """Fail with one clear line when the server cannot run as configured."""
    config = server.config
    if config.workers < 0:
        raise ServerError(f"--workers must be 0 (one process) or more, not {config.workers}")
    for name in ("http_threads", "http_timeout", "http_connection_limit"):
        if getattr(config, name) < 1:
            raise ServerError(f"--{name.replace('_', '-')} must be 1 or more")
    url = server.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # every connection (thread or worker) would open a database of its own
        raise ServerError("an in-memory SQLite database cannot be served: "
                          "use a database file or PostgreSQL")


def waitress_options(config: Config) -> dict[str, Any]:
    """waitress's limits, from the configuration: the same in every mode."""
    return {
        "threads": config.http_threads,
        "connection_limit": config.http_connection_limit,
        "channel_timeout": config.http_timeout,
        "cleanup_interval": min(30, config.http_timeout),
        "max_request_body_size": config.max_request_size,
        "max_request_header_size": MAX_HEADER_SIZE,
        "asyncore_use_poll": True,  # select() cannot watch more than 1,024 sockets
        "ident": "erpcore",  # the Server header, without versions
        # X-Forwarded-* are the application's to trust or not (--proxy-mode)
        "clear_untrusted_proxy_headers": False,
        "expose_tracebacks": False,
    }


def serve(server: Server) -> int:
    config = server.config
    url = f"http://{config.http_interface}:{config.http_port}"
    kind = server.engine.url.get_backend_name()
    if config.workers > 0:
        print(f"erpcore is running on {url} with {config.workers} workers ({kind})", flush=True)
        return _serve_prefork(server)
    httpd = waitress.create_server(Application(server), host=config.http_interface,
                                   port=config.http_port, **waitress_options(config))
    _logger.info("serving on %s (one process, %d threads, %s)", url, config.http_threads, kind)
    start_mail_delivery(server)
    print(f"erpcore is running on {url}", flush=True)
    try:
        httpd.run()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.close()
    return 0


class WaitressWorker(Worker):
    """A gunicorn worker process serving its share of the listening socket with waitress.

    The arbiter (gunicorn's master) forks it, watches its heartbeat and
    replaces it if it dies; waitress reads the requests. The loop turns once
    a second at least, to beat the heartbeat and notice a request to stop.
    """

    def run(self) -> None:
        options = waitress_options(self.app.server.config)
        httpd = waitress.create_server(self.wsgi, sockets=[s.sock for s in self.sockets],
                                       **options)
        try:
            while self.alive and self.is_parent_alive():
                self.notify()
                httpd.asyncore.loop(timeout=1.0, map=httpd._map, use_poll=True, count=1)
        finally:
            httpd.task_dispatcher.shutdown(timeout=self.cfg.graceful_timeout)

    def is_parent_alive(self) -> bool:
        return self.ppid == os.getppid()


def _serve_prefork(server: Server) -> int:
    config = server.config
    server.dispose()  # each worker opens its own connections after the fork

    class Prefork(BaseApplication):
        server = None

        def load_config(self) -> None:
            self.cfg.set("bind", f"{config.http_interface}:{config.http_port}")
            self.cfg.set("workers", config.workers)
            self.cfg.set("worker_class", "erpcore.service.WaitressWorker")
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("proc_name", "erpcore")
            # gunicorn's control socket is one path per user: two servers would fight over it
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("post_fork", lambda _arbiter, _worker: (
                server.dispose(), start_mail_delivery(server)))

        def load(self) -> Application:
            return Application(server)

    app = Prefork()
    app.server = server
    app.run()
    return 0
