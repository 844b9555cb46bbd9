"""HTTP errors the pipeline turns into pages.

Werkzeug's exceptions already form the hierarchy (``code``, ``description``);
this module adds the ones the server raises itself. The pages themselves
(and their French and English texts) are the ``web.error_page`` template; the
titles here serve the plain fallback page when no template can be rendered
(the database is down, say).
"""

from __future__ import annotations

from werkzeug.exceptions import Forbidden, HTTPException, ServiceUnavailable


class CSRFError(Forbidden):
    description = "The form has expired or did not come from this site."


class AdminOnly(Forbidden):
    description = "This page is for administrators."


class DatabaseUnavailable(ServiceUnavailable):
    description = "The database cannot be reached right now. Try again in a moment."


TITLES = {
    400: "Bad request",
    403: "Access denied",
    404: "Page not found",
    405: "Method not allowed",
    413: "Request too large",
    500: "Server error",
    503: "Service unavailable",
}


def title_of(exc: HTTPException) -> str:
    return TITLES.get(exc.code or 500, exc.name)
