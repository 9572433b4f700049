"""The reference deployment (deploy/nginx.conf) tested: nginx in front of two instances
served as `make serve` serves them, on PostgreSQL and Redis, both rolled one after the
other under mixed load. No GET fails, no acknowledged create is lost or doubled (creates
carry Idempotency-Key and are repeated with it), rate limits stay shared, the access log
names the real client, and a client trickling its headers is cut by the proxy."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import make_engine
from tests.builders import PASSWORD
from tests.servers import (
    ROOT,
    SERVICE_CONFIG,
    free_port,
    gunicorn_command,
    migrate,
    stop_server,
    wait_until_up,
)
from tests.settings import FAST_HASHING_ENV

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None
)
CLIENTS = 6
RUN = uuid.uuid4().hex[:8]

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (.ci/run installs Debian's nginx)"
)


def nginx_config(directory: Path, listen: int, upstreams: tuple[int, int]) -> Path:
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    site = site.replace("127.0.0.1:8001", f"127.0.0.1:{upstreams[0]}")
    site = site.replace("127.0.0.1:8002", f"127.0.0.1:{upstreams[1]}")
    (directory / "site.conf").write_text(site)
    temp = "".join(
        f"{kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\ndaemon off;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\naccess_log off;\n{temp}include {directory / 'site.conf'};\n}}\n"
    )
    return main


@contextmanager
def nginx(directory: Path, listen: int, upstreams: tuple[int, int]) -> Iterator[str]:
    config = nginx_config(directory, listen, upstreams)
    assert NGINX is not None
    process = subprocess.Popen(
        [NGINX, "-p", str(directory), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{listen}"
    try:
        wait_until_up(f"{base}/api/health", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def start_instance(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = gunicorn_command(
        "service.app:create_app()", "service.worker.Worker", 2, port, SERVICE_CONFIG
    )
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until_up(f"http://127.0.0.1:{port}/api/health", process)
    return process


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> post id
    remaining: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.will_close:
        connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def client(number: int, port: int, token: str, stop: threading.Event, outcome: Outcome) -> None:
    """One client from its own address (127.0.0.<10 + number>): lists, health checks and
    creates; a GET that fails on a reused connection is repeated once on a fresh one, a
    create is repeated with its Idempotency-Key (up to 3 times) on any failure or 5xx."""
    source = (f"127.0.0.{10 + number}", 0)

    def fresh() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=40, source_address=source)

    connection = fresh()
    auth = {"Authorization": f"Bearer {token}"}
    step = 0
    while not stop.is_set():
        step += 1
        if step % 3:
            path = "/api/posts?limit=5" if step % 3 == 1 else "/api/health"
            try:
                status, _, _ = send(connection, "GET", path, None, auth)
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = fresh()
                try:
                    status, _, _ = send(connection, "GET", path, None, auth)
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    connection = fresh()
                    with outcome.lock:
                        outcome.failures.append(f"GET {path}: {error!r}")
                    continue
            with outcome.lock:
                outcome.answered += 1
                if status >= 500:
                    outcome.failures.append(f"GET {path}: {status}")
            continue
        key = uuid.uuid4().hex
        body = json.dumps({"title": f"roll {RUN} {key}", "content": "Rolled."}).encode()
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": key}
        last = ""
        for _ in range(3):
            try:
                status, answer_headers, data = send(connection, "POST", "/api/posts", body, headers)
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = fresh()
                last = repr(error)
                continue
            if status >= 500:
                last = str(status)
                continue
            with outcome.lock:
                outcome.answered += 1
                if status == 201:
                    outcome.created[key] = json.loads(data)["data"]["id"]
                    remaining = answer_headers.get("x-ratelimit-remaining")
                    reset = answer_headers.get("x-ratelimit-reset", "")
                    if remaining is not None:
                        outcome.remaining.setdefault(number, []).append((reset, int(remaining)))
                elif status != 429:
                    outcome.failures.append(f"POST /api/posts: {status} {data[:200]!r}")
            break
        else:
            with outcome.lock:
                outcome.failures.append(f"POST /api/posts (3 tries): {last}")
    connection.close()


def trickle(port: int) -> float | None:
    """Seconds until the proxy cuts a client sending its headers a byte a second."""
    with socket.create_connection(("127.0.0.1", port)) as trickler:
        trickler.settimeout(1)
        opened = time.monotonic()
        for byte in b"GET /api/health HTTP/1.1\r\nX-Slow: " + b"a" * 60:
            try:
                trickler.sendall(bytes([byte]))
                if trickler.recv(1024) == b"":
                    return time.monotonic() - opened
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - opened
    return None


def sign_up(base_port: int, number: int, label: str = "roll") -> str:
    email = f"{label}-{RUN}-{number}@example.com"
    connection = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
    headers = {"Content-Type": "application/json"}
    user = {"name": f"Roller {number}", "email": email, "password": PASSWORD}
    status, _, data = send(connection, "POST", "/api/users", json.dumps(user).encode(), headers)
    assert status == 201, data
    connection = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
    login = json.dumps({"email": email, "password": PASSWORD}).encode()
    status, _, data = send(connection, "POST", "/api/tokens", login, headers)
    assert status == 201, data
    token: str = json.loads(data)["data"]["token"]
    return token


def roll(
    process: subprocess.Popen[bytes], port: int, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], float]:
    """Stop one instance (SIGTERM, as systemd does) and start it again; seconds it took
    to stop."""
    started = time.monotonic()
    stop_server(process, timeout=40)
    stopped = time.monotonic() - started
    again = start_instance(port, env, log)
    return again, stopped


def test_rolling_restart_behind_nginx(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("the deployment is tested on PostgreSQL (DATABASE_URL is not one)")
    redis = os.environ.get("REDIS_URL", "")
    if not redis.startswith("redis"):
        pytest.skip("REDIS_URL is not set: the instances could not share rate limits")
    env = {
        **os.environ,
        "APP_ENV": "test",
        "METRICS_PORT": "off",
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": redis,
        "RATELIMIT_SCALE": "20",
        "TRUSTED_PROXY_HOPS": "1",
        "LOG_FORMAT": "text",
        **FAST_HASHING_ENV,
    }
    migrate(env)
    ports = (free_port(), free_port())
    logs = (tmp_path / "a.log", tmp_path / "b.log")
    proxy_port = free_port()
    instances = [start_instance(ports[i], env, logs[i]) for i in (0, 1)]
    try:
        with nginx(tmp_path, proxy_port, ports):
            tokens = [sign_up(proxy_port, number) for number in range(CLIENTS)]
            outcome = Outcome()
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=client, args=(n, proxy_port, tokens[n], stop, outcome), daemon=True
                )
                for n in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            cut: list[float | None] = []
            trickler = threading.Thread(target=lambda: cut.append(trickle(proxy_port)))
            trickler.start()
            time.sleep(2)
            took = []
            for i in (0, 1):
                instances[i], seconds = roll(instances[i], ports[i], env, logs[i])
                took.append(seconds)
                time.sleep(2)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            trickler.join(timeout=90)
    finally:
        for process in instances:
            stop_server(process, timeout=40)
    print(
        f"\nrolled 2 instances (stopped in {took[0]:.1f} s, {took[1]:.1f} s): "
        f"{outcome.answered} answered, "
        f"{len(outcome.created)} created, {len(outcome.failures)} failed; "
        f"slow headers cut after {cut[0] if cut else None} s"
    )
    assert outcome.failures == []
    assert outcome.created
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, title FROM posts WHERE title LIKE :run"), {"run": f"roll {RUN} %"}
        ).all()
    titles = [title for _, title in rows]
    assert len(titles) == len(set(titles)), "a create was written twice"
    stored = {str(row_id).replace("-", "") for row_id, _ in rows}
    lost = [key for key, post in outcome.created.items() if post.replace("-", "") not in stored]
    assert lost == [], "acknowledged creates missing from the database"
    # One count per user in Redis: within a window, what is left only goes down, whichever
    # instance answered.
    compared = 0
    for seen in outcome.remaining.values():
        for (reset, left), (next_reset, next_left) in itertools.pairwise(seen):
            if reset == next_reset:
                compared += 1
                assert next_left < left, seen
    assert compared > 0
    # The access log names each client by its own address, not the proxy's.
    written = logs[0].read_text() + logs[1].read_text()
    for number in range(CLIENTS):
        assert f"client=127.0.0.{10 + number} " in written
    assert cut and cut[0] is not None, "the proxy never cut a client trickling its headers"
