"""`make contract`: the Schemathesis CLI, every phase and check, against a live server.

Starts the service on a free port (a throw-away SQLite database unless told otherwise),
runs `schemathesis run` twice - anonymously, then with an admin's bearer token - stops
the server and exits with Schemathesis' status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from models.db import Database
from models.passwords import Passwords
from service.cli import ensure_admin
from tests.servers import BIN, ROOT, running_server
from tests.settings import FAST_HASHING_ENV

ADMIN_EMAIL = "contract-admin@example.com"
ADMIN_PASSWORD = "contract admin password"


def admin_token(base: str, database_url: str) -> str:
    """Make the admin as an operator would, then log in over HTTP."""
    database = Database(database_url)
    try:
        ensure_admin(database, Passwords(time_cost=1, memory_kib=1024), ADMIN_EMAIL, ADMIN_PASSWORD)
    finally:
        database.dispose()
    request = urllib.request.Request(
        f"{base}/api/tokens",
        data=json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]["token"]


def schemathesis(
    base: str, max_examples: int, extra: list[str]
) -> subprocess.CompletedProcess[str]:
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(ROOT / "tests" / "contract" / "schemathesis.toml"),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(max_examples),
        "--seed",
        "1",
        "--no-color",
        *extra,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, text=True, capture_output=True, check=False, env=env)


def run_contract(
    max_examples: int, extra: list[str] | None = None, database_url: str | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Serve on `database_url` and run every phase anonymously, then as an admin.

    The admin run leaves out `revoke_token`, which would log the run itself out.
    """
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'contract.db'}"
        env = {
            "DATABASE_URL": url,
            **FAST_HASHING_ENV,
            # Fuzzing sends thousands of requests from one address; limits have their own tests.
            "RATELIMIT_ENABLED": "false",
        }
        with running_server(env) as base:
            anonymous = schemathesis(base, max_examples, extra or [])
            token = admin_token(base, url)
            as_admin = [
                "-H",
                f"Authorization: Bearer {token}",
                "--exclude-operation-id",
                "revoke_token",
            ]
            return [anonymous, schemathesis(base, max_examples, [*as_admin, *(extra or [])])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=100)
    args, extra = parser.parse_known_args()
    status = 0
    for result in run_contract(args.max_examples, extra):
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
