"""A database made by another checkout's own code, for ``bench.request_cost --against``.

Run with the other checkout as the current directory::

    python PATH/TO/bench/checkout_database.py FOLDER COUNT [DB_URL]

It makes the database (a SQLite file in FOLDER, or the empty PostgreSQL
database DB_URL) with that checkout's tables, installs auth_totp and makes
COUNT users with a password and 2FA on, then prints JSON: the database URL,
and each user's login and TOTP secret (hex). Only what has not changed since
issue 10's work began (731fde4) is used, so the comparison can reach back to
the code the issue measured. It repeats the few lines with which
``bench.request_cost`` makes its own database: it cannot import them, since
everything it imports must come from the other checkout.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the other checkout's code, not this one's

from auth_totp import totp  # noqa: E402
from erpcore.config import Config  # noqa: E402
from erpcore.modules.loading import create_database, install  # noqa: E402
from erpcore.server import Server  # noqa: E402

PASSWORD = "bench-password-1"
ROUNDS_HASH = 1000


def main() -> int:
    folder, count = Path(sys.argv[1]), int(sys.argv[2])
    here = Path(os.getcwd()).resolve()
    if here not in Path(sys.modules["erpcore"].__file__).resolve().parents:
        raise SystemExit(f"bench: erpcore was not imported from {here}")
    config = Config(data_dir=folder / "data", db_url=sys.argv[3] if len(sys.argv) > 3 else "")
    server = Server(config)
    server.prepare_data_dir()
    create_database(server, "bench-admin-password-1", password_rounds=ROUNDS_HASH)
    with server.transaction() as conn:
        install(server, conn, ["auth_totp"])
    server.dispose()
    server = Server(config)  # a registry with auth_totp's fields
    users = []
    with server.environment() as env:
        group = env.ref("base.group_user").id
        for index in range(count):
            login = f"cost{index:05d}"
            secret = totp.generate_secret()
            env["res.users"].create({
                "login": login, "name": login, "password": PASSWORD, "group_ids": [group],
                "totp_secret": totp.to_base32(secret), "totp_enabled_at": time.time()})
            users.append((login, secret.hex()))
    server.dispose()
    print(json.dumps({"url": config.database_url, "users": users}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
