from erpcore.addons.base.models import mail_mail, res_groups, res_users  # noqa: F401
