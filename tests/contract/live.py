"""`make contract`: the Schemathesis CLI, every phase and check, against a live server.

Starts the service on a free port with a throw-away SQLite database, runs
`schemathesis run`, stops the server and exits with Schemathesis' status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.servers import BIN, running_server


def run_contract(
    max_examples: int, extra: list[str] | None = None, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Serve on `database_url` (a throw-away SQLite file if None) and run every phase."""
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'contract.db'}"
        with running_server({"DATABASE_URL": url}) as base:
            command = [
                str(BIN / "schemathesis"),
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
                *(extra or []),
            ]
            return subprocess.run(command, text=True, capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=100)
    args, extra = parser.parse_known_args()
    result = run_contract(args.max_examples, extra)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
