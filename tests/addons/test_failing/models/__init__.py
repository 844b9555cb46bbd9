from . import thing  # noqa: F401
