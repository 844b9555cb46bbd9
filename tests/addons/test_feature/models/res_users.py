from erpcore.orm import Model, fields


class ResUsers(Model):
    _inherit = "res.users"

    #: indexed, so that uninstall must drop an index before the column
    nickname = fields.Char("Nickname", index=True)

    def create(self, vals: dict):
        vals = {"nickname": "nick-" + str(vals.get("login", "")), **vals}
        return super().create(vals)
