from . import res_users  # noqa: F401
