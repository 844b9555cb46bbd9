from erpcore.addons.web.controllers import (  # noqa: F401
    admin,
    apikeys,
    home,
    login,
    preferences,
    rpc,
    settings,
)
