"""Running the HTTP server: one threaded process, or N prefork workers (gunicorn).

Workers share nothing but the database: sessions, throttles, replay counters
and the installed addons are all read from it at each request, so any worker
(or any server on another port or machine, with the same keyring) can serve
any request. With PostgreSQL that is the intended deployment. SQLite works
too on a local disk (WAL, a busy timeout and ``BEGIN IMMEDIATE`` make writers
queue), at the cost of one writer at a time. An in-memory SQLite database
would be a different one in each connection, and is refused.
"""

from __future__ import annotations

import errno
import logging
import socket

from erpcore.http.app import Application
from erpcore.mail import start_mail_delivery
from erpcore.server import Server, ServerError

_logger = logging.getLogger(__name__)


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
    """Fail with one clear line when the database cannot be shared as configured."""
    workers = server.config.workers
    if workers < 0:
        raise ServerError(f"--workers must be 0 (one threaded process) or more, not {workers}")
    url = server.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # every connection (thread or worker) would open a database of its own
        raise ServerError("an in-memory SQLite database cannot be served: "
                          "use a database file or PostgreSQL")


def serve(server: Server) -> int:
    config = server.config
    check_deployment(server)
    check_port(config.http_interface, config.http_port)
    url = f"http://{config.http_interface}:{config.http_port}"
    if config.workers > 0:
        return _serve_prefork(server)
    from werkzeug.serving import make_server

    httpd = make_server(config.http_interface, config.http_port, Application(server),
                        threaded=True)
    _logger.info("serving on %s (one threaded process, %s)", url, _db_kind(server))
    start_mail_delivery(server)
    print(f"erpcore is running on {url}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def _db_kind(server: Server) -> str:
    return server.engine.url.get_backend_name()


def _serve_prefork(server: Server) -> int:
    from gunicorn.app.base import BaseApplication

    config = server.config
    server.dispose()  # each worker opens its own connections after the fork

    class Prefork(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{config.http_interface}:{config.http_port}")
            self.cfg.set("workers", config.workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
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

    url = f"http://{config.http_interface}:{config.http_port}"
    print(f"erpcore is running on {url} with {config.workers} workers ({_db_kind(server)})",
          flush=True)
    Prefork().run()
    return 0
