import hmac

from werkzeug.wrappers import Response

from erpcore.http import Controller, Request, route

#: the only code the fake second factor accepts
CODE = "424242"


class SecondFactor(Controller):
    @route("/test_mfa/verify", auth="public", methods=["GET", "POST"], mfa=True)
    def verify(self, request: Request) -> Response:
        uid = request.session.pre_uid
        if not uid:
            return request.redirect("/web/login")
        error = None
        if request.httprequest.method == "POST":
            code = request.httprequest.form.get("code", "")
            if hmac.compare_digest(code.encode(), CODE.encode()):
                return request.finalize_sign_in(request.env["res.users"].browse(uid))
            error = "wrong code"
        return request.render("test_mfa.verify", {"error": error})

    @route("/test_mfa/sensitive", auth="user", methods=["GET", "POST"], identity=True)
    def sensitive(self, request: Request) -> Response:
        if request.httprequest.method == "POST":
            request.env.user.sudo().write({"name": request.httprequest.form.get("name", "x")})
            return request.redirect("/test_mfa/sensitive")
        return request.render("test_mfa.sensitive")
