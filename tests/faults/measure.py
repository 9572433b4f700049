"""What the service does when PostgreSQL or Redis fails, under a light steady load.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_faults \\
    REDIS_URL=redis://127.0.0.1:6379/5 python -m tests.faults.measure [--pg-silent 10] ...

For each fault (PostgreSQL refusing, PostgreSQL silent, Redis silent): a fresh server as
`make serve` runs it (gunicorn, `service.worker.Worker`, 2 workers, APP_ENV=production)
with PostgreSQL and the rate-limit storage behind fault proxies, a steady load of five
kinds of request from a few threads, the fault for some seconds, then pass again. Printed:
per kind the answers, p99 and max latency of the requests in flight during the fault; the
log lines written during and after it; gunicorn's worker kills; how long after the fault
every kind succeeded again; and, checked with SQL, whether every POST the service
acknowledged is in the database. A duration of 0 leaves that fault out.

Not a test (pytest does not collect it): it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from tests.database import run_sql
from tests.faults.proxy import PASS, REFUSE, SILENT, FaultProxy, Mode, ProxyStats
from tests.faults.served import served, upstream_of

PASSWORD = "measure faults password"


@dataclass(frozen=True)
class Kind:
    """One kind of request of the load, and the status that means it succeeded."""

    name: str
    method: str
    path: str
    expected: int


KINDS = (
    Kind("health", "GET", "/api/health", 200),
    Kind("list", "GET", "/api/posts?limit=10", 200),
    Kind("create", "POST", "/api/posts", 201),
    Kind("openapi", "GET", "/api/openapi.json", 200),
    Kind("404", "GET", "/api/no-such-route", 404),
)


@dataclass(frozen=True)
class Fault:
    name: str
    target: Literal["postgresql", "redis"]
    mode: Mode
    seconds: float


@dataclass
class Sample:
    """One request: when it started, how long it took, and what came back."""

    kind: str
    started: float
    elapsed: float | None = None  # None: still waiting when the figures were taken
    status: int | None = None  # None: no HTTP answer (see `error`)
    error: str | None = None
    title: str | None = None  # the post a create sent
    post_id: str | None = None  # the post a 201 returned

    @property
    def outcome(self) -> str:
        if self.status is not None:
            return str(self.status)
        return self.error or "waiting"

    def ended(self, now: float) -> float:
        return self.started + (self.elapsed if self.elapsed is not None else now - self.started)


class Load:
    """`rate` requests per second spread over `threads_per_kind` threads of each kind; each
    thread sends one request at a time on a new connection (the load is closed: a thread
    whose request hangs sends nothing else meanwhile)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        tag: str,
        rate: float,
        threads_per_kind: int,
        timeout: float,
    ) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self.tag = tag
        self.timeout = timeout
        self.interval = threads_per_kind * len(KINDS) / rate
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sequence = iter(range(1, sys.maxsize))
        self.threads = [
            threading.Thread(target=self._run, args=(kind, n), name=f"load-{kind.name}-{n}")
            for kind in KINDS
            for n in range(threads_per_kind)
        ]
        for thread in self.threads:
            thread.daemon = True  # a request hung past the end must not keep the script alive

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        deadline = time.monotonic() + self.timeout + 1
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def snapshot(self) -> list[Sample]:
        with self.lock:
            return list(self.samples)

    def _run(self, kind: Kind, offset: int) -> None:
        next_at = time.monotonic() + offset * self.interval / max(len(self.threads), 1)
        while not self.stopping.wait(max(next_at - time.monotonic(), 0)):
            next_at = max(next_at + self.interval, time.monotonic())
            self._send(kind)

    def _send(self, kind: Kind) -> None:
        sample = Sample(kind.name, time.monotonic())
        headers: dict[str, str] = {"Connection": "close"}
        body: bytes | None = None
        if kind.method == "POST":
            sample.title = f"{self.tag} {next(self.sequence):06d}"
            body = json.dumps(
                {"title": sample.title, "content": "Written under a fault.", "status": "published"}
            ).encode()
            headers |= {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        with self.lock:
            self.samples.append(sample)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(kind.method, kind.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            sample.status = response.status
            if response.status == 201 and kind.method == "POST":
                sample.post_id = json.loads(answer)["data"]["id"]
        except TimeoutError:
            sample.error = "timeout"
        except http.client.RemoteDisconnected:
            sample.error = "closed"
        except ConnectionResetError:
            sample.error = "reset"
        except (OSError, http.client.HTTPException) as error:
            sample.error = type(error).__name__
        finally:
            connection.close()
            sample.elapsed = time.monotonic() - sample.started


@dataclass
class Result:
    fault: Fault
    tag: str  # in the title of every post sent, and in the email of the user sending them
    samples: list[Sample]
    fault_started: float
    fault_ended: float
    taken_at: float
    log_during: list[str]
    log_after: list[str]
    worker_timeouts: int
    recovered_after: dict[str, float | None]
    proxy_during: ProxyStats  # of the faulty proxy, counted during the fault only

    @property
    def created(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.kind == "create"]

    def in_fault(self) -> list[Sample]:
        """Requests in flight at some moment of the fault."""
        return [
            s
            for s in self.samples
            if s.started < self.fault_ended and s.ended(self.taken_at) > self.fault_started
        ]


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def post_json(base_url: str, path: str, body: dict[str, str]) -> dict[str, object]:
    """The `data` of a POST's answer; an error unless it is a success."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    try:
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status >= 300:
            raise RuntimeError(f"POST {path}: {response.status} {answer}")
        data: dict[str, object] = answer["data"]
        return data
    finally:
        connection.close()


def sign_up(base_url: str, tag: str) -> str:
    """A new user and a token of theirs, through the API."""
    email = f"{tag}@example.com"
    post_json(
        base_url, "/api/users", {"name": "Fault Measure", "email": email, "password": PASSWORD}
    )
    token = post_json(base_url, "/api/tokens", {"email": email, "password": PASSWORD})
    return str(token["token"])


def wait_for_recovery(load: Load, since: float, limit: float) -> dict[str, float | None]:
    """Per kind, seconds from `since` until a request sent after it succeeded; None if none
    did within `limit`."""
    expected = {kind.name: kind.expected for kind in KINDS}
    deadline = time.monotonic() + limit
    while True:
        first: dict[str, float | None] = dict.fromkeys(expected)
        for sample in load.snapshot():
            succeeded = sample.status == expected[sample.kind] and sample.elapsed is not None
            if sample.started >= since and succeeded:
                done = sample.ended(sample.started) - since
                current = first[sample.kind]
                first[sample.kind] = done if current is None else min(current, done)
        if all(value is not None for value in first.values()) or time.monotonic() > deadline:
            return first
        time.sleep(0.1)


def run_fault(
    fault: Fault, database_url: str, redis_url: str, args: argparse.Namespace, log_dir: Path
) -> Result:
    tag = f"measure-{secrets.token_hex(4)}-{fault.target}-{fault.mode.name}"
    log_path = log_dir / f"{fault.target}-{fault.mode.name}.log"
    with (
        FaultProxy(upstream_of(database_url)) as database,
        FaultProxy(upstream_of(redis_url)) as storage,
        served(
            database_url,
            database_proxy=database,
            ratelimit_storage_uri=redis_url if args.limits == "redis" else None,
            redis_proxy=storage if args.limits == "redis" else None,
            workers=args.workers,
            env={"RATELIMIT_SCALE": "1000"},
            log_path=log_path,
        ) as service,
    ):
        faulty = database if fault.target == "postgresql" else storage
        token = sign_up(service.base_url, tag)
        load = Load(
            service.base_url, token, tag, args.rate, args.threads_per_kind, args.client_timeout
        )
        load.start()
        time.sleep(args.warm_up)

        lines_before = len(service.log_lines())
        stats_before = faulty.stats
        fault_started = time.monotonic()
        faulty.set_mode(fault.mode)
        time.sleep(fault.seconds)
        stats_after = faulty.stats  # before pass delivers what silent held
        faulty.set_mode(PASS)
        fault_ended = time.monotonic()
        lines_at_end = len(service.log_lines())

        recovered = wait_for_recovery(load, fault_ended, args.recovery_limit)
        time.sleep(args.settle)
        load.stop()
        taken_at = time.monotonic()
        lines = service.log_lines()
        samples = load.snapshot()
        return Result(
            fault=fault,
            tag=tag,
            samples=samples,
            fault_started=fault_started,
            fault_ended=fault_ended,
            taken_at=taken_at,
            log_during=lines[lines_before:lines_at_end],
            log_after=lines[lines_at_end:],
            worker_timeouts=service.worker_timeouts(lines[lines_before:]),
            recovered_after=recovered,
            proxy_during=difference(stats_after, stats_before),
        )


def difference(after: ProxyStats, before: ProxyStats) -> ProxyStats:
    return ProxyStats(
        accepted=after.accepted - before.accepted,
        refused=after.refused - before.refused,
        cut=after.cut - before.cut,
        open=after.open,
        bytes_up=after.bytes_up - before.bytes_up,
        bytes_down=after.bytes_down - before.bytes_down,
    )


# --- what is printed ------------------------------------------------------------------

EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exit))(?::|$)")
LOG_RECORD = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) \[[^\]]*\] (?P<name>[\w.]+): (?P<message>.*)")
GUNICORN_RECORD = re.compile(r"^\[[^\]]+\] \[\d+\] \[(?P<level>[A-Z]+)\] (?P<message>.*)")


def log_summary(lines: Iterable[str]) -> list[str]:
    """The kinds of line, most frequent first: log records (without time and request id),
    gunicorn's records (without pid) and the exceptions tracebacks end with."""
    kinds: Counter[str] = Counter()
    for line in lines:
        if record := LOG_RECORD.match(line):
            kinds[f"{record['level']} {record['name']}: {record['message'][:90]}"] += 1
        elif record := GUNICORN_RECORD.match(line):
            message = re.sub(r"pid:\d+", "pid:N", record["message"])
            kinds[f"gunicorn {record['level']}: {message[:90]}"] += 1
        elif exception := EXCEPTION_LINE.match(line):
            kinds[f"raised {exception[1]}: {line[len(exception[1]) + 1 :].strip()[:80]}"] += 1
    return [f"{count:5d} x {text}" for text, count in kinds.most_common(6)]


def outcomes(samples: Iterable[Sample]) -> str:
    counted = Counter(sample.outcome for sample in samples)
    return " ".join(f"{outcome}x{n}" for outcome, n in sorted(counted.items()))


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def report(result: Result, args: argparse.Namespace) -> list[str]:
    fault = result.fault
    out = [
        f"== {fault.name} for {fault.seconds:g} s ({args.workers} workers, "
        f"~{args.rate:g} req/s offered from {args.threads_per_kind * len(KINDS)} threads, "
        f"each one request at a time) ==",
        "requests in flight during the fault:",
        f"  {'kind':<8} {'n':>4}  {'answers':<34} {'p99 ms':>8} {'max ms':>8}",
    ]
    during = result.in_fault()
    for kind in KINDS:
        mine = [s for s in during if s.kind == kind.name]
        latencies = [s.ended(result.taken_at) - s.started for s in mine]
        p99 = milliseconds(percentile(latencies, 0.99)) if latencies else "-"
        worst = milliseconds(max(latencies)) if latencies else "-"
        out.append(f"  {kind.name:<8} {len(mine):>4}  {outcomes(mine):<34} {p99:>8} {worst:>8}")
    waiting = [s for s in result.samples if s.elapsed is None]
    if waiting:
        out.append(f"  still waiting when the figures were taken: {outcomes(waiting)}")
    stats = result.proxy_during
    out.append(
        f"{fault.target} proxy during the fault: {stats.accepted} connections accepted "
        f"({stats.refused} reset at once, {stats.cut} open ones cut), "
        f"{stats.bytes_forwarded:,} bytes forwarded"
    )
    out.append(
        f"log lines: {len(result.log_during)} during the fault, {len(result.log_after)} after; "
        f"workers killed (WORKER TIMEOUT): {result.worker_timeouts}"
    )
    out += [f"  {line}" for line in log_summary(result.log_during + result.log_after)]
    recovered = result.recovered_after
    slowest = [v for v in recovered.values() if v is not None]
    if len(slowest) == len(recovered):
        out.append(f"every kind succeeded again {max(slowest):.1f} s after the fault ended")
    else:
        never = ", ".join(k for k, v in recovered.items() if v is None)
        out.append(f"not recovered within {args.recovery_limit:g} s: {never}")
    out.append(
        "  first success after the fault, per kind (s): "
        + ", ".join(
            f"{k} {'-' if v is None else f'{v:.1f}'}" for k, v in result.recovered_after.items()
        )
    )
    return out


def durability(results: list[Result], database_url: str) -> list[str]:
    """Every acknowledged POST must be in the database; unacknowledged ones may be too."""
    out = ["== POST /api/posts against the database (SQL) =="]
    for result in results:
        rows = run_sql(
            database_url,
            "SELECT id, title FROM posts WHERE title LIKE :like",
            like=f"{result.tag} %",
        )
        ids, titles = {str(row[0]) for row in rows}, {row[1] for row in rows}
        acknowledged = [s for s in result.created if s.status is not None and s.status < 300]
        unanswered = [s for s in result.created if s not in acknowledged]
        lost = [s for s in acknowledged if s.post_id not in ids]
        written_anyway = [s for s in unanswered if s.title in titles]
        out.append(
            f"  {result.fault.name:<22} acknowledged {len(acknowledged):>4}, in the database "
            f"{len(acknowledged) - len(lost):>4}, lost {len(lost)}; not acknowledged "
            f"{len(unanswered):>3} ({outcomes(unanswered) or '-'}), written anyway "
            f"{len(written_anyway)}"
        )
    return out


def summary(results: list[Result]) -> list[str]:
    header = f"{'fault':<22}" + "".join(f" {k.name + ' max':>12}" for k in KINDS)
    out = [
        "== summary: slowest request of each kind in flight during the fault (s); of those, "
        "how many failed (not the kind's usual status); log lines; workers killed; recovery ==",
        header + f" {'failed/n':>12} {'log lines':>10} {'kills':>6} {'recovery s':>11}",
    ]
    expected = {kind.name: kind.expected for kind in KINDS}
    for result in results:
        during = result.in_fault()
        cells = []
        for kind in KINDS:
            latencies = [
                s.ended(result.taken_at) - s.started for s in during if s.kind == kind.name
            ]
            cells.append(f" {max(latencies):>12.1f}" if latencies else f" {'-':>12}")
        failed = sum(s.status != expected[s.kind] for s in during)
        values = [v for v in result.recovered_after.values() if v is not None]
        recovery = f"{max(values):.1f}" if len(values) == len(result.recovered_after) else "never"
        logged = len(result.log_during) + len(result.log_after)
        out.append(
            f"{result.fault.name:<22}"
            + "".join(cells)
            + f" {f'{failed}/{len(during)}':>12} {logged:>10}"
            + f" {result.worker_timeouts:>6} {recovery:>11}"
        )
    return out


def clean_up(results: list[Result], database_url: str) -> None:
    """Remove the users (and their posts and tokens) the run created."""
    for result in results:
        email = f"{result.tag}@example.com"
        users = "SELECT id FROM users WHERE email = :email"
        run_sql(database_url, f"DELETE FROM comments WHERE author_id IN ({users})", email=email)
        run_sql(database_url, f"DELETE FROM posts WHERE author_id IN ({users})", email=email)
        run_sql(database_url, f"DELETE FROM tokens WHERE user_id IN ({users})", email=email)
        run_sql(database_url, "DELETE FROM users WHERE email = :email", email=email)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.measure", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--pg-refuse", type=float, default=10, help="seconds; 0 skips it")
    parser.add_argument("--pg-silent", type=float, default=10, help="seconds; 0 skips it")
    parser.add_argument("--redis-silent", type=float, default=15, help="seconds; 0 skips it")
    parser.add_argument(
        "--limits",
        choices=("redis", "memory"),
        default="redis",
        help="where rate limits are counted: in Redis reads run in the threads; in memory "
        "they run in the event loop while the database answers at once (no Redis fault)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=30, help="requests per second offered")
    parser.add_argument("--threads-per-kind", type=int, default=2)
    parser.add_argument("--warm-up", type=float, default=3, help="seconds of load before")
    parser.add_argument("--settle", type=float, default=1, help="seconds of load after")
    parser.add_argument("--recovery-limit", type=float, default=45, help="seconds")
    parser.add_argument("--client-timeout", type=float, default=60, help="seconds")
    parser.add_argument("--log-dir", type=Path, help="keep the servers' logs here")
    parser.add_argument("--keep", action="store_true", help="keep the users and posts made")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url (or DATABASE_URL) must name a PostgreSQL database")
    if not args.redis_url.startswith("redis"):
        parser.error("--redis-url (or REDIS_URL) must name a Redis database")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    faults = [
        Fault("PostgreSQL refuse", "postgresql", REFUSE, args.pg_refuse),
        Fault("PostgreSQL silent", "postgresql", SILENT, args.pg_silent),
        Fault("Redis silent", "redis", SILENT, args.redis_silent if args.limits == "redis" else 0),
    ]
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="faults-measure-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    try:
        for fault in faults:
            if fault.seconds <= 0:
                continue
            print(f"-- {fault.name} for {fault.seconds:g} s ...", file=sys.stderr, flush=True)
            result = run_fault(fault, args.database_url, args.redis_url, args, log_dir)
            results.append(result)
            print("\n".join(report(result, args)) + "\n", flush=True)
        print("\n".join(summary(results)) + "\n")
        print("\n".join(durability(results, args.database_url)))
        print(f"\nservers' logs: {log_dir}")
    finally:
        if not args.keep:
            clean_up(results, args.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
