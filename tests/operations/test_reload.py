"""Reloads (SIGHUP) and stops under load cut no request: ten reloads in a row while 16
clients keep their connections busy, counted as HTTP clients count failures."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import time

from tests.operations.load import (
    Request,
    connections_per_worker,
    load,
    once_per_run,
    reload,
    serving,
    wait_for,
    workers_of,
)
from tests.settings import FAST_HASHING_ENV

RELOADS = 10
CLIENTS = 16
PATHS = itertools.cycle(["/api/health", "/api/posts?limit=5", "/api/tokens", "/api/ready"])
# A log-in that fails (401, or 429 once limited): a POST, which a client may not retry.
LOGIN = json.dumps({"email": "nobody@example.com", "password": "not the password"}).encode()


def next_request() -> Request:
    """GETs and POSTs on keep-alive connections, and one request in four on a fresh
    connection (`Connection: close`): clients that come and go while workers stop."""
    path = next(PATHS)
    if path == "/api/tokens":
        return ("POST", path, LOGIN, {"Content-Type": "application/json"})
    return ("GET", path, None, {"Connection": "close"} if path == "/api/ready" else {})


def test_ten_reloads_under_load_cut_no_request(database_url, tmp_path):
    once_per_run(database_url)
    log = tmp_path / "server.log"
    with serving({"DATABASE_URL": database_url, **FAST_HASHING_ENV}, log) as (base, arbiter):
        with load(base, CLIENTS, next_request) as tally:
            time.sleep(1)
            steady_p99 = tally.p99()
            started = time.monotonic()
            for number in range(RELOADS):
                assert reload(arbiter.pid), f"reload {number + 1}: old workers left after 40 s"
                # The new workers serve before the next reload.
                answered = tally.answered
                assert wait_for(lambda: tally.answered >= answered + 4 * CLIENTS, 30)  # noqa: B023
            took = time.monotonic() - started
        print(
            f"\n{RELOADS} reloads in {took:.1f} s: {tally.answered} answered, "
            f"{tally.retried} GETs retried, {len(tally.failures)} failed; "
            f"p99 {tally.p99() * 1000:.0f} ms (steady {steady_p99 * 1000:.0f} ms)"
        )
    text = log.read_text()
    assert tally.failures == []
    assert "WORKER TIMEOUT" not in text
    assert "SIGKILL" not in text
    assert tally.answered > RELOADS * CLIENTS


def test_after_a_worker_is_killed_the_connections_spread_again(database_url, tmp_path):
    once_per_run(database_url)
    log = tmp_path / "server.log"
    with serving({"DATABASE_URL": database_url, **FAST_HASHING_ENV}, log) as (base, arbiter):
        port = int(base.rsplit(":", 1)[1])
        with load(base, CLIENTS, next_request) as tally:
            time.sleep(1)
            victim = min(workers_of(arbiter.pid))
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            assert wait_for(lambda: len(workers_of(arbiter.pid) - {victim}) == 2, 30)

            def both_serve() -> bool:
                counts = connections_per_worker(arbiter.pid, port)
                return len(counts) == 2 and min(counts.values()) >= CLIENTS // 4

            spread = wait_for(both_serve, 30)
            took = time.monotonic() - killed
            counts = connections_per_worker(arbiter.pid, port)
        # A client trickling its headers a byte a second is cut.
        with socket.create_connection(("127.0.0.1", port)) as trickler:
            trickler.settimeout(2)
            opened = time.monotonic()
            cut = False
            for byte in b"GET /api/health HTTP/1.1\r\nX-Slow: " + b"a" * 40:
                try:
                    trickler.sendall(bytes([byte]))
                    cut = trickler.recv(1) == b""
                except TimeoutError:
                    continue
                except OSError:
                    cut = True
                if cut:
                    break
            trickled = time.monotonic() - opened
        print(f"\nslow headers cut after {trickled:.1f} s")
        assert cut, "a client trickling its headers was never cut"
        print(
            f"\nafter kill -9: both workers hold >= {CLIENTS // 4} connections "
            f"{took:.1f} s later: {counts}"
        )
    assert spread, f"connections per worker 30 s after the kill: {counts}"
    assert tally.answered > CLIENTS
