from erpcore.addons.base.models import res_groups, res_users  # noqa: F401
