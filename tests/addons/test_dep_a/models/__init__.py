from erpcore.orm import Model, fields


class Widget(Model):
    _name = "test.dep.widget"

    name = fields.Char("Name")

    def describe(self) -> str:
        return f"widget {self.name}"
