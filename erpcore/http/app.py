"""The WSGI application: one request, one database connection, a few named steps.

::

    __call__
      |- read_body             the whole form is parsed and checked before the database
      |- serve_static          /<addon>/static/<path> of installed addons, no session
      '- handle (one connection; see erpcore.db for the transaction rule)
           |- open             registry sequences and session row, one statement
           |- match            URL map of the current registry
           |- check_csrf       every POST of a csrf=True route, signed in or not
           |- authenticate     auth='user' | 'public' | 'none'; half-signed-in sessions
           |- check_identity   routes marked identity=True
           |- dispatch         the most derived controller's method
           '- save_session     write the session, commit, set the cookie
      error -> rollback, error_page renders a clean page (never a traceback)

The request reads in a transaction that takes no write lock; its writes make
it a short write transaction until the commit (:mod:`erpcore.db`). A
controller that must write before something slow commits first. HEAD is GET
without a body, and changes nothing: its transaction is always rolled back
and it sets no cookie.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response

from erpcore import throttle
from erpcore.db import database_unavailable
from erpcore.http.controllers import Routing
from erpcore.http.errors import AdminOnly, CSRFError, DatabaseUnavailable, title_of
from erpcore.http.forms import HttpRequest
from erpcore.http.request import Request, safe_redirect
from erpcore.http.session import COOKIE_NAME, SessionStore
from erpcore.orm.environment import Environment
from erpcore.orm.exceptions import AccessError

if TYPE_CHECKING:
    from erpcore.server import Server

_logger = logging.getLogger(__name__)

#: seconds between two sweeps of expired sessions and throttles, per process
SWEEP_INTERVAL = 300
#: a throttle with no attempt for this long, and no wait running, is forgotten
THROTTLE_MEMORY = 86400

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}

#: the methods whose matches are kept per registry (``Application.match``)
_KEPT_METHODS = frozenset({"GET", "HEAD", "POST"})
_SECURITY_HEADERS = [(name.lower(), (name, value)) for name, value in SECURITY_HEADERS.items()]


def same_site_referrer(httprequest: WerkzeugRequest) -> str:
    """The path and query of the page that sent the request, if it is on this site, else ''.

    Only a referrer with this request's own scheme and host counts: another
    site's page names no page of ours, even when its path looks like one.
    """
    referrer = urlsplit(httprequest.referrer or "")
    if (referrer.scheme, referrer.netloc) != (httprequest.scheme, httprequest.host):
        return ""
    target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_redirect(target, "")


class _Abort(Exception):
    """Carries a ready response out of the pipeline, rolling the transaction back.

    With ``keep_session``, the session's own change (it was signed out) is
    still saved, so that the next request does not meet the same state.
    """

    def __init__(self, response: Response, keep_session: bool = False):
        self.response = response
        self.keep_session = keep_session


class Application:
    def __init__(self, server: Server):
        self.server = server
        self.config = server.config
        self.sessions = SessionStore(self.config.session_lifetime,
                                     self.config.mfa_session_lifetime)
        self._static_roots: dict[str, Path] = {}
        #: when this process last deleted expired sessions and stale throttles
        self._swept_at = 0.0
        self.wsgi = ProxyFix(self._wsgi, x_for=1, x_proto=1, x_host=1) \
            if self.config.proxy_mode else self._wsgi

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.wsgi(environ, start_response)

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        httprequest = HttpRequest(environ)
        httprequest.max_content_length = self.config.max_request_size
        httprequest.max_form_memory_size = self.config.max_request_size
        refusal = self.read_body(httprequest)
        response = self.serve_static(httprequest) or self.handle(httprequest, refusal)
        # as Response.__call__, with the headers a response did not set itself added to
        # the final list: constants, which Werkzeug's Headers would check one by one
        app_iter, status, headers = response.get_wsgi_response(environ)
        present = {name.lower() for name, _value in headers}
        headers.extend(header for lowered, header in _SECURITY_HEADERS
                       if lowered not in present)
        if response.mimetype == "text/html" and "cache-control" not in present:
            headers.append(("Cache-Control", "no-store"))
        start_response(status, headers)
        return app_iter

    def read_body(self, httprequest: HttpRequest) -> HTTPException | None:
        """Parse and check the form and the query before any database work.

        The WSGI server has already received the whole body (it buffers each
        request before handing it to a thread), so this never waits for a
        client. Returns the refusal of a malformed request (400, 413), which
        the pipeline raises once it knows the reader's language.
        """
        try:
            httprequest.check_query()
            _ = httprequest.form
        except HTTPException as exc:
            return exc
        return None

    # -- static files ----------------------------------------------------------

    def serve_static(self, httprequest: WerkzeugRequest) -> Response | None:
        """A file of an installed addon's ``static`` folder; 404 for any other addon's.

        But ``static/description/`` (an addon's icon, as Applications shows it
        before the addon is installed) is served for every addon found.
        """
        parts = httprequest.path.split("/", 3)
        if len(parts) < 4 or parts[2] != "static" or httprequest.method != "GET":
            return None
        if parts[1] not in self._static_roots:
            self._static_roots = {n: a.path / "static" for n, a in self.server.discover().items()}
            if parts[1] not in self._static_roots:
                return None
        try:
            with self.server.engine.connect() as conn:
                installed = self.server.registry(conn).installed
        except DBAPIError:
            return self.error_page(None, DatabaseUnavailable())
        path = safe_join(str(self._static_roots[parts[1]]), parts[3])
        public = parts[3].startswith("description/")
        if not (public or parts[1] in installed) or path is None or not Path(path).is_file():
            return Response("Not found", status=404, mimetype="text/plain")
        mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        response = Response(Path(path).read_bytes(), mimetype=mimetype)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    # -- the pipeline ----------------------------------------------------------

    def handle(self, httprequest: HttpRequest, refusal: HTTPException | None = None
               ) -> Response:
        now = self.server.clock()
        request: Request | None = None
        try:
            with self.server.engine.connect() as conn:
                try:
                    # the session's user comes with the session, in the table of the
                    # registry loaded last: kept if the request runs in that registry
                    guess = self.server.loaded_registry
                    users = guess.models["res.users"]._source() if guess else None
                    sequences, session, user = self.sessions.open(
                        conn, httprequest.cookies.get(COOKIE_NAME), now, users)
                    registry = self.server.registry(conn, sequences)
                    self.sessions.touch(conn, session, now)
                    env = Environment(registry, conn, session.uid, su=False)
                    if user is not None and registry is guess:
                        env.cache_rows("res.users", [user])
                    request = Request(httprequest, self.server, registry, env, session, now)
                    request.env = env(context={"lang": self.pick_lang(request), "now": now})
                    if refusal is not None:
                        raise refusal
                    try:
                        response = self.process(request)
                    except _Abort as abort:
                        conn.rollback()  # refusals change nothing
                        if abort.keep_session and not httprequest.is_head:
                            self.sessions.save(conn, request.session, now)
                            conn.commit()
                        return self.finish(request, abort.response)
                    if httprequest.is_head:
                        conn.rollback()
                        return response
                    self.sessions.save(conn, request.session, now)
                    self.sweep(conn, now)
                    conn.commit()
                    request.run_after_commit()
                    return self.finish(request, response)
                except BaseException:
                    conn.rollback()
                    raise
        except DBAPIError as exc:
            if database_unavailable(exc):
                _logger.error("database unavailable on %s: %s", httprequest.path,
                              exc.__class__.__name__)
                return self.error_page(None, DatabaseUnavailable())
            _logger.exception("database error on %s", httprequest.path)
            return self.error_page(request, InternalServerError())
        except HTTPException as exc:
            return self.error_page(request, exc)
        except Exception:
            _logger.exception("error on %s %s", httprequest.method, httprequest.path)
            return self.error_page(request, InternalServerError())

    def process(self, request: Request) -> Response:
        routing, method, args = self.match(request)
        self.check_csrf(request, routing)  # first: a forged POST is a 403, never a redirect
        self.authenticate(request, routing)
        self.check_identity(request, routing)
        return self.dispatch(request, method, args)

    def sweep(self, conn: Any, now: float) -> None:
        """Every few minutes per process: forget expired sessions and quiet throttles."""
        if now - self._swept_at < SWEEP_INTERVAL:
            return
        self._swept_at = now
        self.sessions.vacuum(conn, now)
        throttle.forget_quiet(conn, now, THROTTLE_MEMORY)

    def pick_lang(self, request: Request) -> str:
        languages = request.registry.languages
        if request.session.uid:
            lang = request.env(su=True).user.lang
            if lang in languages:
                return lang
        best = request.httprequest.accept_languages.best_match(languages)
        return best or "en"

    def match(self, request: Request) -> tuple[Routing, Any, dict]:
        registry, httprequest = request.registry, request.httprequest
        # a WebSocket upgrade is matched as Werkzeug matches it, never from what is kept
        key = None if "HTTP_UPGRADE" in httprequest.environ else \
            (httprequest.path, httprequest.method)
        found = registry.static_matches.get(key) if key else None
        if found is None:
            adapter = registry.url_map.bind_to_environ(httprequest.environ)
            # raises NotFound, MethodNotAllowed, redirects
            rule, args = adapter.match(return_rule=True)
            found = (rule.endpoint, args)
            # a path without variables gives the same answer each time; the methods are
            # the usual ones, since a rule open to every method would take any word
            if key and not rule.arguments and httprequest.method in _KEPT_METHODS:
                registry.static_matches[key] = found
        endpoint, args = found
        cls, name, routing = registry.endpoints[endpoint]
        return routing, getattr(cls(), name), dict(args)

    def authenticate(self, request: Request, routing: Routing) -> None:
        session = request.session
        uid = session.uid or session.pre_uid
        if uid:
            user = request.env["res.users"].sudo().browse(uid).exists()
            if not user or not user.active:  # archived or deleted since the password
                session.clear()
                raise _Abort(request.redirect("/web/login"), keep_session=True)
        if session.pre_uid and not session.uid:
            if request.now - session.get("pre_login_at", 0) > self.config.mfa_session_lifetime:
                session.clear()
                raise _Abort(request.redirect_query("/web/login", error="expired"),
                             keep_session=True)
            if not routing.mfa:
                raise _Abort(request.redirect(session["mfa_url"]))
            return
        if routing.auth == "user" and not session.uid:
            target = request.httprequest.full_path.rstrip("?")
            raise _Abort(request.redirect_query("/web/login", redirect=target))

    def check_csrf(self, request: Request, routing: Routing) -> None:
        if request.httprequest.method == "POST" and routing.csrf:
            token = request.httprequest.form.get("csrf_token")
            if not request.validate_csrf(token):
                _logger.warning("CSRF token refused on %s", request.httprequest.path)
                raise CSRFError()

    def check_identity(self, request: Request, routing: Routing) -> None:
        """Send a stale session to the password page, then back where it was."""
        if routing.identity and not request.identity_is_fresh():
            httprequest = request.httprequest
            if httprequest.method == "GET":
                target = httprequest.full_path.rstrip("?")
            else:  # a form post cannot be replayed: come back to the page holding the form
                target = same_site_referrer(httprequest) or "/web/preferences"
            raise _Abort(request.redirect_query("/web/identity", redirect=target))

    def dispatch(self, request: Request, method: Any, args: dict) -> Response:
        try:
            result = method(request, **args)
        except AccessError as exc:
            raise AdminOnly(str(exc)) from exc
        if isinstance(result, str):
            return Response(result, mimetype="text/html")
        return result

    def finish(self, request: Request, response: Response) -> Response:
        """Set the session cookie when its id changed, and the cookies the request asked for."""
        secure = request.is_secure
        sid = request.session.sid
        cookie = request.httprequest.cookies.get(COOKIE_NAME)
        if sid and request.session.loaded_sid == sid and sid != cookie:
            response.set_cookie(COOKIE_NAME, sid or "", httponly=True, samesite="Lax",
                                secure=secure, path="/")
        for name, value, max_age in request.cookies:
            response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Lax",
                                secure=secure, path="/")
        return response

    # -- errors ----------------------------------------------------------------

    def error_page(self, request: Request | None, exc: HTTPException) -> Response:
        """A clean page for *exc*, in the request's language; plain HTML as a last resort."""
        if exc.code is None or 300 <= exc.code < 400:
            return exc.get_response()  # routing redirects (a missing trailing slash...)
        code = exc.code
        body = None
        if request is not None and code != 503:
            try:
                page = request.registry.render("web.error_page", {
                    "code": code, "kind": "csrf" if isinstance(exc, CSRFError) else "",
                    "user": None, "lang": request.lang, "company_name": "erpcore",
                }, request.lang)
                body = "<!DOCTYPE html>\n" + str(page)
            except Exception:  # the error page must not fail: fall back to plain HTML
                _logger.debug("error page template failed", exc_info=True)
        if body is None:
            title = escape(title_of(exc))
            body = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{code} {title}"
                    f"</title></head><body><h1>{code} {title}</h1>"
                    f"<p>{escape(exc.description or '')}</p></body></html>")
        response = Response(body, status=code, mimetype="text/html")
        if code == 503:
            response.headers["Retry-After"] = "5"
        if code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
