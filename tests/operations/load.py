"""Load for the operations tests: clients on keep-alive connections, counted as HTTP
clients count failures, and which worker holds each connection."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import (
    ROOT,
    SERVICE_CONFIG,
    free_port,
    gunicorn_command,
    migrate,
    stop_server,
    wait_until_up,
)

# What a client sends: (method, path, body, headers); a request factory per client.
Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class Tally:
    answered: int = 0
    retried: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99)] if ordered else 0.0


def _send(connection: http.client.HTTPConnection, request: Request) -> http.client.HTTPResponse:
    method, path, body, headers = request
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response


def one_client(
    host: str, port: int, next_request: Callable[[], Request], stop: threading.Event, tally: Tally
) -> None:
    """Requests one after another on one keep-alive connection, reopened when the server
    closes it. A request on a reused connection that finds it closed is retried once on a
    fresh one when it is a GET (RFC 9112 §9.3.1); any other failure, and any 5xx, counts."""
    connection: http.client.HTTPConnection | None = None
    while not stop.is_set():
        request = next_request()
        reused = connection is not None
        if connection is None:
            connection = http.client.HTTPConnection(host, port, timeout=30)
        started = time.monotonic()
        try:
            response = _send(connection, request)
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            connection = None
            if not (reused and request[0] == "GET"):
                with tally.lock:
                    tally.failures.append(f"{request[0]} {request[1]}: {error!r}")
                continue
            with tally.lock:
                tally.retried += 1
            connection = http.client.HTTPConnection(host, port, timeout=30)
            try:
                response = _send(connection, request)
            except (OSError, http.client.HTTPException) as again:
                connection.close()
                connection = None
                with tally.lock:
                    tally.failures.append(f"{request[0]} {request[1]} (retried): {again!r}")
                continue
        with tally.lock:
            tally.answered += 1
            tally.latencies.append(time.monotonic() - started)
            if response.status >= 500:
                tally.failures.append(f"{request[0]} {request[1]}: {response.status}")
        if response.will_close:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


@contextmanager
def load(base: str, clients: int, next_request: Callable[[], Request]) -> Iterator[Tally]:
    """`clients` threads sending requests to `base` until the block ends."""
    host, port = base.removeprefix("http://").split(":")
    tally = Tally()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=one_client, args=(host, int(port), next_request, stop, tally), daemon=True
        )
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        yield tally
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def workers_of(arbiter: int) -> set[int]:
    children = Path(f"/proc/{arbiter}/task/{arbiter}/children")
    try:
        return {int(pid) for pid in children.read_text().split()}
    except OSError:
        return set()


def connections_per_worker(arbiter: int, port: int) -> dict[int, int]:
    """Established connections on the server's `port`, per worker process."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":
                established.add(fields[9])
    counts: dict[int, int] = {}
    for pid in workers_of(arbiter):
        count = 0
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(fd.path)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in established:
                    count += 1
        except OSError:
            continue
        counts[pid] = count
    return counts


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def reload(arbiter: int, timeout: float = 40.0) -> bool:
    """SIGHUP the arbiter; True once every worker it had is gone and as many new ones run."""
    before = workers_of(arbiter)
    os.kill(arbiter, signal.SIGHUP)
    return wait_for(
        lambda: (
            bool(workers_of(arbiter))
            and not (workers_of(arbiter) & before)
            and len(workers_of(arbiter)) == len(before)
        ),
        timeout,
    )


@contextmanager
def serving(
    env: dict[str, str], log_path: Path, workers: int = 2
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The service as `make serve` runs it (tests/servers.py's command), with its arbiter:
    (base URL, arbiter process)."""
    port = free_port()
    full_env = {**os.environ, "APP_ENV": "test", "METRICS_PORT": "off", **env}
    migrate(full_env)
    command = gunicorn_command(
        "service.app:create_app()", "service.worker.Worker", workers, port, SERVICE_CONFIG
    )
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=full_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/api/health", process)
            assert wait_for(lambda: len(workers_of(process.pid)) == workers, 30)
            yield base, process
        finally:
            stop_server(process, timeout=40)


def once_per_run(database_url: str) -> None:
    """The multi-process tests are heavy: on PostgreSQL when the run has it, else SQLite."""
    import pytest

    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgresql")
    if on_postgres and not database_url.startswith("postgresql"):
        pytest.skip("runs once, on PostgreSQL (DATABASE_URL)")
