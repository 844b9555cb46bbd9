from erpcore.orm import Model, fields


class ResGroups(Model):
    _name = "res.groups"
    _description = "Group"
    _order = "name"

    name = fields.Char("Name", required=True)
