"""Errors raised by models; their messages are shown to users as they are."""


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why."""


class ValidationError(UserError):
    """A value does not pass a model's checks."""


class AccessError(UserError):
    """The current user may not do this."""
