"""The SDKs a client team generates from the contract: the Python client passes
`mypy --strict` and runs every operation against a live server; the TypeScript types pass
`tsc --strict`. What reads badly or types wrongly is fixed in the contract, never here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from service.contract import Contract
from tests.servers import ROOT, free_port, running_server
from tests.settings import FAST_HASHING_ENV
from tools import sdk

BUILD = ROOT / "build"
HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "client_program.py"
SPEC = ROOT / "openapi" / "openapi.yaml"
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


def prefixed_contract(folder: Path) -> Path:
    """The contract with its paths under `/api` and no server URL: Prism matches a
    request's path against the paths as written, and forwards it as it came."""
    document = yaml.safe_load(SPEC.read_text())
    base = document["servers"][0]["url"].rstrip("/")
    document["paths"] = {base + path: item for path, item in document["paths"].items()}
    document["servers"] = [{"url": "/"}]
    target = folder / "openapi.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def test_the_python_program_through_prisms_validation_proxy_has_no_violation(generated, tmp_path):
    """A conformance check independent of Schemathesis: every request the program sends
    and every answer the server gives, checked by Prism against the contract."""
    prism = ROOT / "node_modules" / ".bin" / "prism"
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'proxy.db'}", **FAST_HASHING_ENV}
    with running_server(env) as base:
        port = free_port()
        command = [str(prism), "proxy", str(prefixed_contract(tmp_path)), base]
        # The program sends refused requests on purpose (to see their 400s): Prism judges
        # the answers, every one of them, and makes a violation a 500.
        command += ["--errors", "--validate-request", "false"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        log = (tmp_path / "prism.log").open("w")
        proxy = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(f"http://127.0.0.1:{port}/api/health")
            done = run(
                [sys.executable, str(PROGRAM), f"http://127.0.0.1:{port}"],
                PYTHONPATH=str(generated / "python"),
            )
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
            log.close()
    output = (tmp_path / "prism.log").read_text()
    violations = [line for line in output.splitlines() if "Violation" in line or "✖" in line]
    assert done.returncode == 0, done.stdout + done.stderr + "\n".join(violations)
    assert violations == []


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_the_program_calls_every_operation_of_the_contract():
    source = PROGRAM.read_text()
    missing = [name for name in Contract.load().operations if f"{name}.sync" not in source]
    assert missing == []
