from erpcore.addons.base.models import (  # noqa: F401
    ir_model,
    mail_mail,
    res_groups,
    res_users,
    res_users_apikeys,
    res_users_apikeys_event,
)
