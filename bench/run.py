"""`make bench`: this service against a bare Flask and a FastAPI baseline, side by side.

Each system is started in turn on 127.0.0.1 with BENCH_WORKERS processes and a fresh copy
of one seeded database; wrk loads it (64 connections, a warm-up, then BENCH_DURATION
seconds per scenario), with keep-alive and with `Connection: close`. The pairs alternate
BENCH_REPEAT times and the medians are reported, with each system's peak memory and
its failures: answers of another class than the scenario expects (wrk's "Non-2xx or 3xx
responses") and socket errors (connect, read, write, timeout), summed over the rounds.
Results also go to bench/results/latest.json, with the date, the machine, its load and
the command (docs/performance.md is rendered from such files: `make perf-doc`).

Databases (BENCH_DATABASES; by default all three when BENCH_POSTGRES_URL or DATABASE_URL
names a PostgreSQL server, which gets databases of its own, else SQLite alone):
- `sqlite`: a file.
- `postgresql`: PostgreSQL on 127.0.0.1.
- `postgresql-0.5ms`: the same through a proxy process adding 0.25 ms each way
  (bench/latency.py): a database a short network hop away.
BENCH_VARIANTS adds the service under other settings, e.g.
`inline:INLINE_READS=true;threads8:WSGI_THREADS=8,INLINE_READS=false`, or another worker
class: `uvloop:worker=bench.workers.UvloopWorker`. In a variant's values, `{otlp}` is the
URL of a local OTLP/HTTP receiver (bench/otlp_sink.py) the run starts.
BENCH_TRACING=1 adds the tracing rows: the default (tracing off) beside
`tracing-0` (on, sampling 0 %) and `tracing-100` (on, every request exported to `{otlp}`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.meta import run_metadata
from bench.otlp_sink import otlp_sink
from bench.seed import issue_token, seed, seed_url
from models.db import make_engine
from tests.servers import SERVICE_CONFIG, free_port, gunicorn_command, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
# The secret (APP_SECRET) of every system: one for every copy of the data.
BENCH_SECRET = "bench-secret-of-at-least-32-characters"
# Narrow a run while tuning, e.g. BENCH_SYSTEMS=service BENCH_SCENARIOS=list,get.
ONLY_SYSTEMS = set(filter(None, os.environ.get("BENCH_SYSTEMS", "").split(",")))
ONLY_SCENARIOS = set(filter(None, os.environ.get("BENCH_SCENARIOS", "").split(",")))
ONLY_MODES = set(filter(None, os.environ.get("BENCH_MODES", "").split(",")))
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL") or (
    os.environ.get("DATABASE_URL", "") if "postgresql" in os.environ.get("DATABASE_URL", "") else ""
)
# All three where a PostgreSQL server is named, else SQLite alone.
DEFAULT_DATABASES = "sqlite,postgresql,postgresql-0.5ms" if POSTGRES_URL else "sqlite"
DATABASES = [
    name.strip()
    for name in os.environ.get("BENCH_DATABASES", DEFAULT_DATABASES).split(",")
    if name.strip()
]
LATENCY_MS_EACH_WAY = 0.25
START_TIMEOUT = 180.0
WARMUP = 2
CONNECTIONS = 64
ORIGIN = "http://bench.example.com"
# The local OTLP receiver's URL, for `{otlp}` in a variant's settings (main starts it).
OTLP_URL = ""


@dataclass(frozen=True)
class System:
    name: str
    app: str
    worker: str
    env: dict[str, str] = field(default_factory=dict)
    # The checkout whose code it runs (another one: an earlier version, for before/after).
    checkout: Path = ROOT


# Every system that authenticates runs with the service's settings for the benchmark.
SERVICE_ENV = {
    "APP_ENV": "production",  # response validation off
    "CORS_ORIGINS": ORIGIN,
    "RATELIMIT_SCALE": "1000000",  # every limit on, none reached
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "1024",
}
# What users would pick instead, doing the same work, then the floor (bare apps that
# skip authentication, validation, limits and CORS). The order of the table's columns.
COMPARED = ("connexion", "fastapi-full", "flask", "fastapi")
SYSTEMS = [
    System("service", "service.app:create_app()", "service.worker.Worker", SERVICE_ENV),
    # Stock Connexion: the same contract and handlers, none of the service's speed
    # changes, on the stock uvicorn worker (uvloop), as Connexion's users run it.
    System(
        "connexion",
        "bench.baselines.connexion_stock:create_app()",
        "uvicorn_worker.UvicornWorker",
        SERVICE_ENV,
    ),
    # FastAPI doing the service's work for these requests.
    System(
        "fastapi-full",
        "bench.baselines.fastapi_work:app",
        "uvicorn_worker.UvicornWorker",
        SERVICE_ENV,
    ),
    System("flask", "bench.baselines.flask_app:app", "sync"),
    # FastAPI as its users run it: the stock uvicorn worker, uvloop included.
    System("fastapi", "bench.baselines.fastapi_app:app", "uvicorn_worker.UvicornWorker"),
]


def variants(spec: str) -> list[System]:
    """The service under other settings: `name:VAR=value,VAR=value;name:...`; the key
    `worker` names another gunicorn worker class (e.g. `worker=bench.workers.UvloopWorker`),
    `checkout` another checkout of the service to run (`before:checkout=/tmp/main`: a
    version before a change, on the same data and in the same run)."""
    found = []
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        name, _, assignments = item.partition(":")
        env = dict(SYSTEMS[0].env)
        worker = SYSTEMS[0].worker
        checkout = ROOT
        for assignment in filter(None, assignments.split(",")):
            key, _, value = assignment.partition("=")
            if key.strip() == "worker":
                worker = value.strip()
            elif key.strip() == "checkout":
                checkout = Path(value.strip()).resolve()
            else:
                env[key.strip()] = value.strip()
        system = System(f"service:{name.strip()}", SYSTEMS[0].app, worker, env, checkout)
        found.append(system)
    return found


# Tracing on, exporting to the run's local receiver, never sampled or always.
TRACING_VARIANTS = (
    "tracing-0:OTEL_EXPORTER_OTLP_ENDPOINT={otlp},OTEL_SERVICE_NAME=bench,"
    "OTEL_TRACES_SAMPLER=traceidratio,OTEL_TRACES_SAMPLER_ARG=0;"
    "tracing-100:OTEL_EXPORTER_OTLP_ENDPOINT={otlp},OTEL_SERVICE_NAME=bench,"
    "OTEL_TRACES_SAMPLER=always_on"
)
SYSTEMS += variants(os.environ.get("BENCH_VARIANTS", ""))
if os.environ.get("BENCH_TRACING", "") in ("1", "true"):
    SYSTEMS += variants(TRACING_VARIANTS)
OTLP = "{otlp}"
# Bare apps without authentication, validation, limits or CORS: the floor, not the same work.
FLOOR = frozenset({"flask", "fastapi"})

SCENARIOS = {
    "list": ("/api/users?page=1&limit=20", None),
    "get": ("/api/users/{id}", None),
    "create": ("/api/users", "post_user.lua"),
    "error": ("/api/users", "post_invalid.lua"),
    # The caller's profile, stats and notifications from local sources (three reads on one
    # connection); the baselines have no dashboard, so it runs on the service alone.
    "dashboard": ("/api/dashboard", None),
}
SERVICE_ONLY = frozenset({"dashboard"})
MODES = {"keep-alive": [], "close": ["-H", "Connection: close"]}
SYSTEMS = [
    system
    for system in SYSTEMS
    if not ONLY_SYSTEMS or system.name in ONLY_SYSTEMS or system.name.startswith("service:")
]
SCENARIOS = {k: v for k, v in SCENARIOS.items() if not ONLY_SCENARIOS or k in ONLY_SCENARIOS}
MODES = {k: v for k, v in MODES.items() if not ONLY_MODES or k in ONLY_MODES}


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk is missing; installing Debian's package 'wrk' with apt-get", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


class WrkError(Exception):
    """wrk printed no summary (it could not connect, or the server died)."""


SOCKET_ERRORS = ("connect", "read", "write", "timeout")
# Counts, summed over the rounds (a median of failure counts hides a bad round).
COUNTS = ("requests", "non2xx", "socket_errors", *(f"errors_{kind}" for kind in SOCKET_ERRORS))


def parse_wrk(output: str) -> dict[str, float]:
    """req/s, p50 and p99 (ms), and the counts: requests, non-2xx (or 3xx) answers and
    socket errors, which wrk prints only when there were any."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", output)
    requests = re.search(r"(\d+) requests in ", output)
    if not (rps and p50 and p99 and requests):
        raise WrkError(output.strip() or "wrk printed nothing")
    figures = {
        "rps": float(rps.group(1)),
        "p50": to_ms(p50.group(1)),
        "p99": to_ms(p99.group(1)),
        "requests": float(requests.group(1)),
    }
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    figures["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    counts = [float(n) for n in socket.groups()] if socket else [0.0] * len(SOCKET_ERRORS)
    for kind, count in zip(SOCKET_ERRORS, counts, strict=True):
        figures[f"errors_{kind}"] = count
    figures["socket_errors"] = sum(counts)
    return figures


class PeakRss:
    """Peak resident memory of a process and its children, sampled from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def tree(self) -> list[int]:
        pids = [self.pid]
        for pid in pids:
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            pids += [int(child) for child in children]
        return pids

    def sample(self) -> None:
        while self.running:
            total = 0
            for pid in self.tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                match = re.search(r"VmRSS:\s+(\d+)", status)
                total += int(match.group(1)) if match else 0
            self.peak_kib = max(self.peak_kib, total)
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the process and its children have used so far."""
        ticks = 0
        for pid in self.tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak_kib / 1024


# mode -> scenario -> figure -> value
Results = dict[str, dict[str, dict[str, float]]]
# mode -> scenario -> system -> figure -> value
Table = dict[str, dict[str, dict[str, dict[str, float]]]]


class SystemRun(TypedDict):
    results: Results
    # The warm-ups' own figures: not in the medians, but their failures are reported.
    warmup: Results
    rss_mib: float
    bodies: dict[str, bytes]
    # The machine's 1-minute load average before and after the run (it is shared).
    load: tuple[float, float]


class Database:
    """One database scenario: seeded once, a fresh copy for each system's run."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        self.latency: subprocess.Popen[bytes] | None = None
        if name == "sqlite":
            self.seeded = folder / "seed.db"
            self.user_ids = seed(self.seeded)
            self.token = issue_token(f"sqlite:///{self.seeded}")
            return
        if not POSTGRES_URL:
            raise SystemExit(f"bench: {name} needs BENCH_POSTGRES_URL (or DATABASE_URL)")
        base = make_url(POSTGRES_URL)
        self.seed_name = f"{base.database}_bench_seed"
        self.run_name = f"{base.database}_bench_run"
        self._create(self.seed_name)
        self.user_ids = seed_url(self._url(self.seed_name))
        self.token = issue_token(self._url(self.seed_name))
        if name.endswith("-0.5ms"):
            port = free_port()
            upstream = f"{base.host or '127.0.0.1'}:{base.port or 5432}"
            command = [sys.executable, "-m", "bench.latency", "--upstream", upstream]
            command += ["--port", str(port), "--ms", str(LATENCY_MS_EACH_WAY)]
            self.latency = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
            self.proxy_port: int | None = port
            time.sleep(1)
        else:
            self.proxy_port = None

    def _url(self, database: str, *, proxied: bool = False) -> str:
        url = make_url(POSTGRES_URL).set(database=database)
        text_url = url.render_as_string(hide_password=False)
        if proxied and self.proxy_port:
            parts = urlsplit(text_url)
            user, at, _ = parts.netloc.rpartition("@")
            netloc = f"{user}{at}127.0.0.1:{self.proxy_port}"
            text_url = urlunsplit(parts._replace(netloc=netloc))
        return text_url

    def _create(self, name: str, template: str | None = None) -> None:
        engine = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            like = f' TEMPLATE "{template}"' if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{like}'))
        engine.dispose()

    @contextlib.contextmanager
    def fresh(self) -> Iterator[str]:
        """The URL of a fresh copy of the seeded database, as a server reaches it."""
        if self.name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                database = Path(folder) / "bench.db"
                shutil.copy(self.seeded, database)
                yield f"sqlite:///{database}"
            return
        self._create(self.run_name, template=self.seed_name)
        yield self._url(self.run_name, proxied=True)

    def close(self) -> None:
        if self.latency is not None:
            self.latency.terminate()
            self.latency.wait(timeout=10)
        if self.name != "sqlite":
            engine = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                for name in (self.run_name, self.seed_name):
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()


def run_system(system: System, database: Database, wrk: str) -> SystemRun:
    """Start `system` on a fresh copy of the seeded database, load every scenario, stop it."""
    user_id = database.user_ids[500]
    load_before = os.getloadavg()[0]
    with database.fresh() as database_url:
        port = free_port()
        # One secret for every copy of the data, so that equal pages are equal bytes.
        env = {**os.environ, "DATABASE_URL": database_url, "APP_SECRET": BENCH_SECRET, **system.env}
        env = {key: value.replace(OTLP, OTLP_URL) for key, value in env.items()}
        config = SERVICE_CONFIG if system.name.startswith("service") else None
        command = gunicorn_command(system.app, system.worker, WORKERS, port, config)
        # gunicorn puts its working directory first on the path: the checkout's code runs.
        server = subprocess.Popen(command, cwd=system.checkout, env=env)
        base = f"http://127.0.0.1:{port}"
        rss = PeakRss(server.pid)
        try:
            # Generous: on a shared, busy machine a worker may take a while to import.
            wait_until_up(f"{base}/api/users/{user_id}", server, timeout=START_TIMEOUT)
            # The seeded admin's token: the bare baselines ignore it, the others look it up.
            token = database.token
            bodies = {
                "list": get_body(f"{base}/api/users?page=1&limit=20", token),
                "get": get_body(f"{base}/api/users/{user_id}", token),
            }
            results: Results = {}
            warmup: Results = {}
            for mode, mode_args in MODES.items():
                for scenario, (path, script) in SCENARIOS.items():
                    if scenario in SERVICE_ONLY and not system.name.startswith("service"):
                        continue
                    url = base + path.format(id=user_id)
                    args = [
                        "-t2",
                        f"-c{CONNECTIONS}",
                        "--latency",
                        "-H",
                        f"Authorization: Bearer {token}",
                        "-H",
                        f"Origin: {ORIGIN}",
                        *mode_args,
                    ]
                    if script:
                        args += ["-s", str(ROOT / "bench" / script)]
                    # A prefix per run (the script's argument) keeps every POST's email unique.
                    warm = [wrk, *args, f"-d{WARMUP}s", url, "--", f"{mode}-warm-{time.time_ns()}"]
                    label = f"{system.name} {mode} {scenario}"
                    warmup.setdefault(mode, {})[scenario] = load_with(warm, f"{label} warm-up")
                    measured = [wrk, *args, f"-d{DURATION}s", url, "--", f"{mode}-{time.time_ns()}"]
                    cpu_before = rss.cpu_seconds()
                    figures = load_with(measured, label)
                    # The server's CPU time per request: steadier than req/s on a shared
                    # machine, where the neighbours' load moves req/s by tens of per cent.
                    spent = rss.cpu_seconds() - cpu_before
                    figures["cpu_us"] = spent / max(figures["requests"], 1.0) * 1e6
                    results.setdefault(mode, {})[scenario] = figures
        finally:
            server.terminate()
            server.wait(timeout=30)
            peak = rss.stop()
        load = (load_before, os.getloadavg()[0])
        return {
            "results": results,
            "warmup": warmup,
            "rss_mib": peak,
            "bodies": bodies,
            "load": load,
        }


def load_with(command: list[str], label: str) -> dict[str, float]:
    """Run wrk; its figures, or the run stops with what wrk said."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return parse_wrk(done.stdout + done.stderr)
    except WrkError as error:
        raise SystemExit(
            f"bench: wrk failed on {label} (exit {done.returncode}): {error}"
        ) from None


def get_body(url: str, token: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        body: bytes = reply.read()
        return body


def median_table(runs: dict[str, list[SystemRun]]) -> Table:
    table: Table = {}
    for system, reps in runs.items():
        for mode in MODES:
            for scenario in SCENARIOS:
                if scenario not in reps[0]["results"][mode]:
                    continue  # not run on this system (SERVICE_ONLY)
                for metric in ("rps", "p50", "p99", "cpu_us"):
                    values = [rep["results"][mode][scenario].get(metric, 0.0) for rep in reps]
                    table.setdefault(mode, {}).setdefault(scenario, {}).setdefault(system, {})[
                        metric
                    ] = statistics.median(values)
    return table


def render(table: Table, peaks: dict[str, float]) -> str:
    """The service, then each compared system with the service's ratio to it (req/s)."""
    compared = [name for name in COMPARED if any(name in systems for systems in _cells(table))]
    head = f"{'mode':<10} {'scenario':<9} | {'service':>17} |" + "".join(
        f" {name:>19} |" for name in compared
    )
    units = f"{'':<10} {'':<9} | {'req/s  p50  p99 ms':>17} |" + "".join(
        f" {'req/s  p99  ratio':>19} |" for _ in compared
    )
    lines = [head, units]
    for mode, scenarios in table.items():
        for scenario, systems in scenarios.items():
            service = systems.get("service", {})
            line = f"{mode:<10} {scenario:<9} | " + (
                "{rps:>6.0f} {p50:>4.0f} {p99:>5.0f}".format(**service) if service else f"{'-':>17}"
            )
            for name in compared:
                other = systems.get(name)
                if other is None:
                    line += f" | {'-':>19}"
                    continue
                ratio = service.get("rps", 0.0) / other["rps"] if other["rps"] else 0.0
                line += f" | {other['rps']:>6.0f} {other['p99']:>5.0f} {ratio:>5.2f}x"
            lines.append(line + " |")
    lines.append(
        "ratio: the service's req/s over the system's. peak RSS (MiB, all workers): "
        + ", ".join(f"{name} {peak:.0f}" for name, peak in peaks.items())
    )
    return "\n".join(lines)


# mode -> scenario -> system -> count -> total over the rounds
Failures = dict[str, dict[str, dict[str, dict[str, float]]]]
# The scenario whose every request is refused (400): there a 2xx answer is the failure.
REFUSED = frozenset({"error"})


def failure_totals(runs: dict[str, list[Results]]) -> Failures:
    """Each system's counts per mode and scenario, summed over its rounds; `unexpected`
    counts the answers of another class than the scenario's (a 2xx where 400 is due,
    anything else where 2xx is)."""
    totals: Failures = {}
    for system, reps in runs.items():
        for results in reps:
            for mode, scenarios in results.items():
                for scenario, figures in scenarios.items():
                    counts = totals.setdefault(mode, {}).setdefault(scenario, {})
                    cell = counts.setdefault(system, dict.fromkeys((*COUNTS, "unexpected"), 0.0))
                    for name in COUNTS:
                        cell[name] += figures.get(name, 0.0)
                    expected_non2xx = scenario in REFUSED
                    wrong = figures["requests"] - figures["non2xx"]
                    cell["unexpected"] += wrong if expected_non2xx else figures["non2xx"]
    return totals


def render_failures(totals: Failures, rounds: int, what: str = "failures") -> str:
    """One line per system, mode and scenario with answers of the wrong class or socket
    errors; or one line saying there were none."""
    lines = []
    for mode, scenarios in totals.items():
        for scenario, systems in scenarios.items():
            for system, counts in systems.items():
                if not counts["unexpected"] and not counts["socket_errors"]:
                    continue
                expected = "non-2xx" if scenario in REFUSED else "2xx"
                answers = "2xx" if scenario in REFUSED else "non-2xx"
                line = (
                    f"  {system:<14} {mode:<10} {scenario + ':':<10} {counts['unexpected']:.0f} "
                    f"{answers} of {counts['requests']:.0f} requests ({expected} expected)"
                )
                if counts["socket_errors"]:
                    kinds = ", ".join(
                        f"{kind} {counts[f'errors_{kind}']:.0f}"
                        for kind in SOCKET_ERRORS
                        if counts[f"errors_{kind}"]
                    )
                    line += f"; socket errors {counts['socket_errors']:.0f} ({kinds})"
                lines.append(line)
    head = f"{what}, summed over {rounds} round{'s' if rounds != 1 else ''}"
    if not lines:
        return f"{head}: none (every answer of the expected class, no socket errors)"
    return "\n".join([f"{head}:", *lines])


def _cells(table: Table) -> list[dict[str, dict[str, float]]]:
    return [systems for scenarios in table.values() for systems in scenarios.values()]


def render_variants(table: Table) -> str:
    """req/s (p99 ms) of the service under each setting, its ratio to the defaults, and
    the server's CPU µs per request."""
    names = [system.name for system in SYSTEMS if system.name.startswith("service")]
    lines = [
        "req/s (p99 ms) ratio to the service's req/s, server CPU µs per request",
        f"{'mode':<10} {'scenario':<9} | " + " | ".join(f"{n:>29}" for n in names),
    ]
    for mode, scenarios in table.items():
        for scenario, systems in scenarios.items():
            base = systems["service"]["rps"] or 1.0
            cells = [
                "{:>6.0f} ({:>4.0f}) {:>5.2f}x {:>5.0f} µs".format(
                    systems[n]["rps"],
                    systems[n]["p99"],
                    systems[n]["rps"] / base,
                    systems[n].get("cpu_us", 0.0),
                )
                for n in names
            ]
            lines.append(f"{mode:<10} {scenario:<9} | " + " | ".join(f"{c:>29}" for c in cells))
    return "\n".join(lines)


def bench_database(name: str, folder: Path, wrk: str) -> dict[str, Any]:
    """Every system, BENCH_REPEAT times, on the database scenario `name`."""
    database = Database(name, folder)
    try:
        runs: dict[str, list[SystemRun]] = {system.name: [] for system in SYSTEMS}
        for rep in range(REPEAT):
            for system in SYSTEMS:
                print(f"bench: {name}, round {rep + 1}/{REPEAT}, {system.name}", flush=True)
                runs[system.name].append(run_system(system, database, wrk))
    finally:
        database.close()
    # The systems that do the service's work answer the same bytes; the bare floor apps
    # skip cursors and counted totals, so their lists differ by design, and so may a
    # variant that runs another version of the service (another checkout).
    same_work = [
        system.name
        for system in SYSTEMS
        if system.name in runs and system.name not in FLOOR and system.checkout == ROOT
    ]
    same = {
        scenario: len({runs[name][0]["bodies"][scenario] for name in same_work}) == 1
        for scenario in ("list", "get")
    }
    if len(same_work) < 2:
        same = {}
    table = median_table(runs)
    failures = failure_totals(
        {name: [rep["results"] for rep in reps] for name, reps in runs.items()}
    )
    warmup_failures = failure_totals(
        {name: [rep["warmup"] for rep in reps] for name, reps in runs.items()}
    )
    peaks = {name: max(rep["rss_mib"] for rep in reps) for name, reps in runs.items()}
    loads = [value for reps in runs.values() for rep in reps for value in rep["load"]]
    return {
        "medians": table,
        "failures": failures,
        "warmup_failures": warmup_failures,
        "peak_rss_mib": peaks,
        "identical_bodies": same,
        "load_average": {"min": min(loads), "max": max(loads)},
        "runs": {
            name: [
                {"results": rep["results"], "warmup": rep["warmup"], "load": rep["load"]}
                for rep in reps
            ]
            for name, reps in runs.items()
        },
    }


def report(name: str, result: dict[str, Any]) -> None:
    print(f"\n== database: {name} ==")
    print(render(result["medians"], result["peak_rss_mib"]))
    print(render_failures(result["failures"], REPEAT))
    print(render_failures(result["warmup_failures"], REPEAT, "failures in the warm-ups"))
    print(f"identical bodies for the same query: {result['identical_bodies']}")
    load = result["load_average"]
    print(
        f"machine load (1-minute load average, {os.cpu_count()} cores) during these runs: "
        f"{load['min']:.1f} to {load['max']:.1f}"
    )
    if any(system.name.startswith("service:") for system in SYSTEMS):
        print(render_variants(result["medians"]))


def main() -> int:
    wrk = ensure_wrk()
    meta = run_metadata("bench", "bench.run")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    settings = (
        f"wrk -c{CONNECTIONS}, {DURATION} s per scenario after {WARMUP} s warm-up, "
        f"{WORKERS} workers each, median of {REPEAT}; {machine}"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    global OTLP_URL  # noqa: PLW0603 (set once, before any system starts)
    with tempfile.TemporaryDirectory() as folder, otlp_sink() as sink:
        OTLP_URL = sink.url
        for name in DATABASES:
            results[name] = bench_database(name, Path(folder), wrk)
            # Each database's figures as soon as they are known: a long run that fails
            # later keeps them.
            print(f"\n{settings}")
            report(name, results[name])
            document = {
                "kind": "bench",
                "meta": meta,
                "settings": {
                    "workers": WORKERS,
                    "duration_s": DURATION,
                    "warmup_s": WARMUP,
                    "repeat": REPEAT,
                    "connections": CONNECTIONS,
                    "systems": [system.name for system in SYSTEMS],
                    "variants": {
                        system.name: {
                            **{k: v for k, v in system.env.items() if k not in SERVICE_ENV},
                            **(
                                {"worker": system.worker}
                                if system.worker != SYSTEMS[0].worker
                                else {}
                            ),
                        }
                        for system in SYSTEMS
                        if system.name.startswith("service:")
                    },
                },
                "databases": results,
            }
            (out / "latest.json").write_text(json.dumps(document, indent=2))
        if any(OTLP in value for system in SYSTEMS for value in system.env.values()):
            print(f"\nOTLP receiver: {sink.exports} exports, {sink.bytes / 1e6:.1f} MB")
    print(f"\n{settings}")
    for name, result in results.items():
        report(name, result)
    return 0 if all(all(r["identical_bodies"].values()) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
