"""An addon whose install fails late, after its schema and records are written."""

from . import models  # noqa: F401


def post_init_hook(env) -> None:
    env["test.failing.thing"].create({"name": "written before the failure"})
    raise RuntimeError("test_failing refuses to be installed")
