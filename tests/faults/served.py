"""The service as `make serve` runs it, reaching PostgreSQL and Redis through fault proxies.

    with (
        FaultProxy(upstream_of(database_url)) as database,
        FaultProxy(upstream_of(redis_url)) as redis,
        served(database_url, database_proxy=database,
               ratelimit_storage_uri=redis_url, redis_proxy=redis) as service,
    ):
        database.set_mode(SILENT)
        ... requests to service.base_url ...
        service.log_lines()

The schema is migrated on the direct URL first; the server (gunicorn, `service.worker.Worker`,
`APP_ENV=production`) gets the proxied URLs, and its stdout and stderr go to a log file that
tests read while it runs. Start it with the proxies in pass mode: it is up once
`/api/health` answers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.faults.proxy import FaultProxy
from tests.servers import running_server

DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379}
WORKER_TIMEOUT = "WORKER TIMEOUT"  # what gunicorn's arbiter logs when it kills a stuck worker


def upstream_of(url: str) -> tuple[str, int]:
    """(host, port) of a database or Redis URL: what a proxy in front of it forwards to."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    return parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[scheme]


def through(url: str, proxy: FaultProxy) -> str:
    """`url` with its host and port replaced by the proxy's (user, database, options kept)."""
    parts = urlsplit(url)
    user, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}{at}{proxy.host}:{proxy.port}"))


# What starts the message of an access log line (service/access_log.py), in text.
ACCESS_MARK = "] access: client="


@dataclass(frozen=True)
class Served:
    """A running service: where it answers, and what it has written to its log so far."""

    base_url: str
    log_path: Path
    env: Mapping[str, str]  # what the server was started with beyond the inherited environment

    def log_lines(self) -> list[str]:
        """What it logged but the access log's line per request (`access_lines`)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if ACCESS_MARK not in line]

    def access_lines(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if ACCESS_MARK in line]

    def worker_timeouts(self, lines: list[str] | None = None) -> int:
        """Workers gunicorn killed for not answering its heartbeat (in `lines`, or all)."""
        seen = self.log_lines() if lines is None else lines
        return sum(WORKER_TIMEOUT in line for line in seen)


@contextmanager
def served(
    database_url: str,
    *,
    database_proxy: FaultProxy | None = None,
    ratelimit_storage_uri: str | None = None,
    redis_proxy: FaultProxy | None = None,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[Served]:
    """The service on a free port with `workers` workers, stopped when the block ends.

    `database_url` is migrated directly; the server reaches it through `database_proxy`
    when given. `ratelimit_storage_uri` (memory when None) likewise through `redis_proxy`.
    `env` adds or overrides variables (APP_ENV is production unless it says otherwise).
    The log goes to `log_path`, else to a file removed afterwards.
    """
    if redis_proxy is not None and ratelimit_storage_uri is None:
        raise ValueError("redis_proxy needs the ratelimit_storage_uri it stands in front of")
    server_env = {
        "APP_ENV": "production",
        "DATABASE_URL": through(database_url, database_proxy) if database_proxy else database_url,
    }
    if ratelimit_storage_uri is not None:
        server_env["RATELIMIT_STORAGE_URI"] = (
            through(ratelimit_storage_uri, redis_proxy) if redis_proxy else ratelimit_storage_uri
        )
    server_env.update(env or {})
    with ExitStack() as stack:
        if log_path is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="served-"))
            log_path = Path(folder) / "server.log"
        log_path.touch()
        base = stack.enter_context(
            running_server(server_env, workers=workers, log_path=log_path, migrate_url=database_url)
        )
        yield Served(base, log_path, server_env)
