"""GET /metrics scraped from a 2-worker server started as `make serve` starts it: what the
workers counted adds up, per operation and status, whichever worker served a request."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from limits import parse
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from service.contract import Contract
from tests.builders import PASSWORD
from tests.servers import free_port, running_server
from tests.settings import FAST_HASHING_ENV

SIGN_UP_LIMIT = parse(Contract.load().operations["create_user"]["x-rate-limit"]).amount
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def call(base: str, method: str, path: str, body: dict[str, object] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(f"{base}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# The server's start-up probe asks /api/health, and under load an abandoned probe can be
# answered late: the plan leaves that operation out, and so do the sums below.
PROBED = "get_health"


def requests_by_worker(directory: Path) -> dict[int, float]:
    """Each worker's own count of requests (but the probe's), from its own file."""
    counted = {}
    for path in directory.glob("counter_*.db"):
        metrics = MultiProcessCollector.merge([str(path)], accumulate=True)  # type: ignore[no-untyped-call]
        counted[int(path.stem.split("_")[1])] = sum(
            sample.value
            for metric in metrics
            for sample in metric.samples
            if sample.name == "http_requests_total" and sample.labels["operation"] != PROBED
        )
    return counted


def plan() -> list[tuple[tuple[str, str], dict[str, object] | None]]:
    """What is sent: reads, a 404, invalid and valid sign-ups (past the limit)."""
    sign_ups = [
        {"name": "Metric Person", "email": f"m-{uuid.uuid4().hex[:12]}@example.com"}
        for _ in range(2 * SIGN_UP_LIMIT + 2)
    ]
    return (
        [(("GET", "/api/ready"), None)] * 30
        + [(("GET", "/api/posts"), None)] * 20
        + [(("GET", "/api/no-such-thing"), None)] * 10
        + [(("POST", "/api/users"), {"name": "x"})] * 10
        + [(("POST", "/api/users"), {**body, "password": PASSWORD}) for body in sign_ups]
    )


OPERATIONS = {
    ("GET", "/api/ready"): "get_readiness",
    ("GET", "/api/posts"): "list_posts",
    ("GET", "/api/no-such-thing"): "unrouted",
    ("POST", "/api/users"): "create_user",
}


def test_counters_add_up_across_two_workers(database_url, tmp_path):
    port = free_port()
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"a dead server's file")  # wiped at start
    env = {
        "DATABASE_URL": database_url,
        "METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        **FAST_HASHING_ENV,
    }
    with running_server(env, workers=2) as base:
        assert not (directory / "counter_1.db").exists()
        before = scrape(port)
        # Batches until both workers have served some (which one accepts is up to them).
        sent: list[tuple[tuple[str, str], dict[str, object] | None]] = []
        statuses: list[int] = []
        for _ in range(5):
            batch = plan()
            with ThreadPoolExecutor(8) as pool:
                statuses += pool.map(lambda item: call(base, *item[0], item[1]), batch)
            sent += batch
            if len([n for n in requests_by_worker(directory).values() if n]) == 2:
                break
        after = scrape(port)
        by_worker = requests_by_worker(directory)

        # Every request, counted once, under its operation, method and status.
        expected = Counter(
            (OPERATIONS[route], route[0], str(status))
            for (route, _), status in zip(sent, statuses, strict=True)
        )
        for (operation, method, status), count in expected.items():
            labels = {"operation": operation, "method": method, "status": status}
            counted = value(after, "http_requests_total", **labels) - value(
                before, "http_requests_total", **labels
            )
            assert counted == count, (labels, counted, count)
        for operation in set(OPERATIONS.values()):
            timed = value(
                after, "http_request_duration_seconds_count", operation=operation
            ) - value(before, "http_request_duration_seconds_count", operation=operation)
            assert timed == sum(n for (op, _, _), n in expected.items() if op == operation)

        # Both workers served some; their own files sum to what was scraped.
        assert len([n for n in by_worker.values() if n]) == 2, by_worker
        total = sum(
            v
            for (name, labels), v in after.items()
            if name == "http_requests_total" and ("operation", PROBED) not in labels
        )
        assert sum(by_worker.values()) == total

        # Each worker has its own memory bucket of SIGN_UP_LIMIT: at least two 429s.
        refused = statuses.count(429)
        assert refused >= 2
        assert value(after, "rate_limit_refusals_total", limit="create_user") == refused
        assert value(after, "db_pool_connections_in_use") == 0
        for dependency in ("database", "rate_limit_storage"):
            assert value(after, "circuit_breaker_state", dependency=dependency) == 0

        # A worker that dies leaves its counts but not its live gauges.
        dead = max(by_worker)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (directory / f"gauge_livesum_{dead}.db").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (directory / f"gauge_livesum_{dead}.db").exists()
        assert (directory / f"counter_{dead}.db").exists()
        again = scrape(port)
        assert sum(v for (name, _), v in again.items() if name == "http_requests_total") >= total


def test_metrics_are_not_served_on_the_api_port(database_url):
    port = free_port()
    env = {"DATABASE_URL": database_url, "METRICS_PORT": str(port)}
    with running_server(env, workers=2) as base:
        request = urllib.request.Request(f"{base}/metrics")
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("the API port served /metrics")
        except urllib.error.HTTPError as error:
            assert error.code == 404
            assert json.loads(error.read())["error"]["code"] == "NOT_FOUND"
        assert "http_requests_total" in str(scrape(port))
