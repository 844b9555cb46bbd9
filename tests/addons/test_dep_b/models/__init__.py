from erpcore.orm import Model, fields


class Widget(Model):
    _inherit = "test.dep.widget"

    colour = fields.Char("Colour")
    owner_id = fields.Many2one("res.users", "Owner")

    def describe(self) -> str:
        return f"{super().describe()} in {self.colour}"
