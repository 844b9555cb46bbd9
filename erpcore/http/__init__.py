"""HTTP: controllers and routes, sessions, CSRF, the WSGI application.

Public API for addons::

    from erpcore.http import Controller, route, Request
"""

from erpcore.http.controllers import Controller, route
from erpcore.http.request import Request

__all__ = ["Controller", "Request", "route"]
