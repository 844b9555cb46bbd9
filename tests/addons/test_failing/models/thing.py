from erpcore.orm import Model, fields


class Thing(Model):
    _name = "test.failing.thing"

    name = fields.Char("Name")


class ResUsers(Model):
    _inherit = "res.users"

    test_failing_flag = fields.Boolean("Flag", index=True)
