"""The SDKs a client team generates from the contract: the Python client passes
`mypy --strict` and runs every operation against a live server; the TypeScript types pass
`tsc --strict`. What reads badly or types wrongly is fixed in the contract, never here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.contract import Contract
from tests.servers import ROOT, running_server
from tests.settings import FAST_HASHING_ENV
from tools import sdk

BUILD = ROOT / "build"
HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "client_program.py"
# openapi-fetch over the openapi-typescript types (tests/sdk/client_program.ts).
TS_CONFIG = HERE / "tsconfig.client.json"


@pytest.fixture(scope="module")
def generated() -> Path:
    """Both SDKs, generated into build/sdk as `make sdk` does."""
    out = BUILD / "sdk"
    sdk.python_client(out)
    sdk.typescript_types(out)
    return out


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done


def test_the_python_client_and_a_program_using_it_pass_mypy_strict(generated):
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(BUILD / ".mypy_cache")]
    done = run([*command, str(PROGRAM)], MYPYPATH=str(generated / "python"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


@pytest.mark.usefixtures("generated")
def test_the_typescript_types_pass_tsc_strict():
    done = run([str(ROOT / "node_modules" / ".bin" / "tsc"), "-p", str(HERE / "tsconfig.json")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_python_client_calls_every_operation_of_a_live_server(generated, tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'sdk.db'}", **FAST_HASHING_ENV}
    with running_server(env) as base:
        done = run([sys.executable, str(PROGRAM), base], PYTHONPATH=str(generated / "python"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every operation answered as the contract says" in done.stdout


@pytest.mark.usefixtures("generated")
def test_the_typescript_client_drives_the_flow_against_a_live_server(tmp_path):
    """openapi-fetch over the generated types: compiled with `tsc --strict`, run by Node."""
    done = run([str(ROOT / "node_modules" / ".bin" / "tsc"), "-p", str(TS_CONFIG)])
    assert done.returncode == 0, done.stdout + done.stderr
    out = BUILD / "ts-client"
    (out / "package.json").write_text('{"type": "module"}\n')
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'ts.db'}", **FAST_HASHING_ENV}
    with running_server(env) as base:
        done = run(["node", str(out / "tests" / "sdk" / "client_program.js"), base])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the TypeScript client drove the flow as the contract says" in done.stdout


def test_the_program_calls_every_operation_of_the_contract():
    source = PROGRAM.read_text()
    missing = [name for name in Contract.load().operations if f"{name}.sync" not in source]
    assert missing == []
