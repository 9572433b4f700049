"""Real servers on 127.0.0.1 for tests that need a socket: started, awaited, stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def migrate(env: Mapping[str, str]) -> None:
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered, if only to refuse (a rate limit, say)
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


SERVICE_CONFIG = "python:service.gunicorn_conf"


def gunicorn_command(
    app: str, worker_class: str, workers: int, port: int, config: str | None = None
) -> list[str]:
    """gunicorn serving `app` on 127.0.0.1:`port`, quiet but for warnings; `config`:
    gunicorn's `-c` (the service's hooks, SERVICE_CONFIG, as `make serve` uses them)."""
    return [
        str(BIN / "gunicorn"),
        app,
        *(["-c", config] if config else []),
        "--worker-class",
        worker_class,
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]


def uvicorn_command(port: int) -> list[str]:
    """The service as `make run` serves it: one uvicorn process."""
    return [
        str(BIN / "uvicorn"),
        "--factory",
        "service.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-server-header",
        "--no-proxy-headers",
        "--no-access-log",
        "--loop",
        "asyncio",
        "--http",
        "httptools",
        "--log-level",
        "warning",
    ]


@contextmanager
def running_server(
    env: Mapping[str, str],
    port: int | None = None,
    *,
    how: str = "serve",
    workers: int = 1,
    log_path: Path | None = None,
    migrate_url: str | None = None,
) -> Iterator[str]:
    """The service on a free port with `env`, as `make serve` runs it (gunicorn, the
    production worker class, `workers` of them) or, with `how="run"`, as `make run` does
    (uvicorn); yields its base URL. With `log_path`, everything it prints goes to that
    file: its log records (the access log's line per request among them), tracebacks,
    gunicorn's warnings. Metrics are not served unless `env` names a METRICS_PORT.

    `migrate_url`: the database to migrate first, when the server reaches it another way
    (through a proxy, say); by default `env`'s DATABASE_URL.
    """
    port = port or free_port()
    full_env = {**os.environ, "APP_ENV": "test", "METRICS_PORT": "off", **env}
    migrate(full_env if migrate_url is None else {**full_env, "DATABASE_URL": migrate_url})
    if how == "run":
        command = uvicorn_command(port)
    else:
        command = gunicorn_command(
            "service.app:create_app()", "service.worker.Worker", workers, port, SERVICE_CONFIG
        )
    output = open(log_path, "ab") if log_path else None  # noqa: SIM115 (closed below)
    # Its own process group: whatever is left of it when it does not stop is killed.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=full_env,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/api/health", process)
        yield base
    finally:
        stop_server(process)
        if output:
            output.close()


def stop_server(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM; if it has not exited after `timeout`, SIGKILL to its process group (the
    arbiter and its workers: a worker stuck in a request does not outlive the test)."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so the group's id is still this process's and nobody else's.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
