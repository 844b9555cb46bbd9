from auth_totp.models import auth_totp_device, auth_totp_event, auth_totp_recovery_code, res_users  # noqa: F401,E501
