"""The commands a person types: quiet when all is well, one clear line when a setting is bad."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import ROOT

BAD = {"RATELIMIT_SCALE": "abc"}
MESSAGE = "error: RATELIMIT_SCALE must be an integer, got 'abc'"


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_starting_the_service_prints_no_warning():
    """Connexion imports starlette.testclient, which warned on every command."""
    done = run([sys.executable, "-c", "import service.app, service.cli, tests.servers"])
    assert done.returncode == 0
    assert done.stderr == ""


def test_a_bad_setting_is_one_line_and_status_2():
    done = run([sys.executable, "-m", "service.settings"], **BAD)
    assert done.returncode == 2
    assert done.stderr.strip() == MESSAGE
    assert run([sys.executable, "-m", "service.settings"]).returncode == 0


@pytest.mark.parametrize("target", ["run", "serve", "migrate"])
def test_make_stops_at_a_bad_setting_before_anything_starts(target):
    done = run(["make", "--no-print-directory", target], **BAD)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.splitlines()[0] == MESSAGE
    assert "alembic" not in done.stdout  # nothing ran after the check
