from erpcore.orm import Model, fields


class Note(Model):
    _name = "test.feature.note"
    _description = "Test note"

    name = fields.Char("Name", required=True)
    secret = fields.Encrypted("Secret")
    other_secret = fields.Encrypted("Other secret")
    user_id = fields.Many2one("res.users", "Owner")
