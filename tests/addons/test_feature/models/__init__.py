from . import note, res_users  # noqa: F401
