from werkzeug.wrappers import Response

from erpcore.addons.web.controllers.home import Home
from erpcore.http import Controller, Request, route


class FeatureHome(Home):
    """Hooks the home page by overriding the method, without repeating @route."""

    def home(self, request: Request) -> Response:
        response = super().home(request)
        response.headers["X-Test-Feature"] = "home"
        return response


class Feature(Controller):
    @route("/test_feature/hello", auth="user", methods=["GET"])
    def hello(self, request: Request) -> Response:
        return Response(request._("Hello from the feature"), mimetype="text/plain")

    @route("/test_feature/crash", auth="public", methods=["GET"])
    def crash(self, request: Request) -> Response:
        raise RuntimeError("crash-secret-4242 must not reach the page")
