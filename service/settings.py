"""Every setting of the service, read from the environment once.

Nothing else reads `os.environ`: `Settings.from_env()` is called by the entry points and
the result is passed to `create_app`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///data/app.db"
ENVIRONMENTS = ("development", "test", "production")
LOG_FORMATS = ("text", "json")
DEFAULT_METRICS_PORT = 9464
# APP_SECRET's shortest: a cursor and its signature are a known pair, so a short secret
# could be found offline by trying candidates.
MIN_SECRET_CHARS = 32


class SettingsError(ValueError):
    """A variable of the environment has a value the service cannot use."""


def _integer(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _boolean(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _auto_boolean(environ: Mapping[str, str], name: str) -> bool | None:
    """true, false, or None for unset or `auto`."""
    if environ.get(name, "").strip().lower() in ("", "auto"):
        return None
    return _boolean(environ, name, default=False)


def _seconds(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    """A duration in seconds ("2", "0.5"), at least `minimum`."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value >= minimum or value == float("inf"):
        raise SettingsError(f"{name} must be at least {minimum:g} seconds, got {raw}")
    return value


def _longest_cooldown(environ: Mapping[str, str], cooldown: float) -> float:
    """BREAKER_MAX_COOLDOWN: seconds, 30 by default, never below BREAKER_COOLDOWN."""
    name = "BREAKER_MAX_COOLDOWN"
    value = _seconds(environ, name, max(30.0, cooldown), minimum=0.01)
    if value < cooldown:
        raise SettingsError(
            f"{name} must be at least BREAKER_COOLDOWN ({cooldown:g} seconds), got {value:g}"
        )
    return value


def _auto_integer(environ: Mapping[str, str], name: str, minimum: int) -> int | None:
    """An integer, or None for `auto` (or unset): the service decides."""
    if environ.get(name, "").strip().lower() in ("", "auto"):
        return None
    return _integer(environ, name, 0, minimum)


def _port(environ: Mapping[str, str], name: str, default: int | None) -> int | None:
    """A TCP port, or None for `off`."""
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw == "off":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{name} must be a port (1-65535) or off, got {raw!r}")
    return int(raw)


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin == "*" or "://" not in origin:
            raise SettingsError(
                f"CORS_ORIGINS takes exact origins such as https://app.example.com, got {origin!r}"
            )
    return origins


def _storage_uri(raw: str) -> str:
    """A `limits` storage URI the synchronous limiter can use."""
    uri = raw.strip() or "memory://"
    if uri.startswith("async+"):
        # limits' asyncio storages return coroutines to a synchronous caller: every
        # check would fail, and limits would silently be off (fail open).
        raise SettingsError(f"RATELIMIT_STORAGE_URI must not be an async+ storage, got {uri!r}")
    if "://" not in uri:
        raise SettingsError(
            f"RATELIMIT_STORAGE_URI must be a URI such as redis://host:6379, got {uri!r}"
        )
    return uri


def _base_url(environ: Mapping[str, str], name: str) -> str:
    """An upstream's base URL (http or https), without a trailing slash; empty: none."""
    raw = environ.get(name, "").strip().rstrip("/")
    if raw and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return raw


def _secret(environ: Mapping[str, str]) -> str:
    """`APP_SECRET`, or `CURSOR_SECRET`, its former name; empty: the database's secret.
    The error names the variable and the length it needs, never the value."""
    name, value = "APP_SECRET", environ.get("APP_SECRET", "").strip()
    former = environ.get("CURSOR_SECRET", "").strip()
    if former and value and former != value:
        raise SettingsError("CURSOR_SECRET is the former name of APP_SECRET: set APP_SECRET only")
    if former and not value:
        name, value = "CURSOR_SECRET", former
    if value and len(value) < MIN_SECRET_CHARS:
        raise SettingsError(
            f"{name} must be at least {MIN_SECRET_CHARS} characters, got {len(value)} "
            "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    ratelimit_storage_uri: str = "memory://"
    ratelimit_enabled: bool = True
    # Multiplies every declared limit: for load tests and staging, never above 1 by default.
    ratelimit_scale: int = 1
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    trusted_proxy_hops: int = 0
    max_body_bytes: int = 1_048_576
    validate_responses: bool = True
    # Threads that run Flask (and token lookups) in each worker; 0: none, every request
    # runs in the event loop. None (auto): 8; 2 where reads always run in the loop (the
    # threads serve writes only).
    wsgi_threads: int | None = None
    # Reads in the event loop: True, False, or None (auto: see `reads_in_loop`).
    inline_reads: bool | None = None
    # Every wait on a dependency is bounded (seconds); see docs/operations.md, "Bad days".
    database_connect_timeout: float = 2.0
    database_pool_timeout: float = 2.0
    database_statement_timeout: float = 3.0
    database_request_timeout: float = 4.0
    ratelimit_storage_timeout: float = 0.5
    # Consecutive failures that open a dependency's circuit breaker; how long it stays open
    # before it is probed (in the background), doubling after each failed probe up to the
    # longest cooldown.
    breaker_failures: int = 3
    breaker_cooldown: float = 0.5
    breaker_max_cooldown: float = 30.0
    token_ttl_seconds: int = 7 * 24 * 3600
    # The dashboard's sources: a base URL calls that service (openapi/upstreams/*.yaml),
    # empty reads this service's own model layer. Each call has its own timeout (seconds).
    dashboard_profile_url: str = ""
    dashboard_stats_url: str = ""
    dashboard_notifications_url: str = ""
    dashboard_timeout: float = 0.8
    # Argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    # Lists count their matches exactly up to this many; above it `total` is an estimate
    # unless the client sends `Prefer: count=exact` (docs/api.md, "Lists at scale").
    count_exact_limit: int = 1000
    # What the statements of one search may take together (seconds); past it the search
    # is a 400 naming `search`, not an outage (models/search.py).
    search_timeout: float = 0.5
    # Signs list cursors and keys entity tags (service/app_secret.py). Empty: the random
    # secret migration 0007 keeps in the database, the same for every worker and instance.
    # Never shown (repr), so settings printed or logged do not give it away.
    app_secret: str = field(default="", repr=False)
    # Every log record, the access log's one line per request included: `text` or `json`.
    log_format: str = "text"
    # Where Prometheus scrapes GET /metrics: its own port (never the API's), loopback by
    # default; None: not served (apps built in-process, as tests do).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # Set by service/gunicorn_conf.py for `make serve`: the workers' shared metric files.
    metrics_multiproc_dir: str | None = None

    @property
    def reads_in_loop(self) -> bool:
        """Whether reads run in the event loop (service/resilience/placement.py): auto,
        where nothing they wait on can go silent (SQLite, rate limits in memory)."""
        if self.wsgi_threads == 0 or self.inline_reads is not None:
            return self.wsgi_threads == 0 or bool(self.inline_reads)
        return self.database_url.startswith("sqlite") and self.rate_limits_local

    @property
    def rate_limits_local(self) -> bool:
        """Whether counting a request waits on nothing outside the process."""
        return not self.ratelimit_enabled or self.ratelimit_storage_uri.startswith("memory")

    @property
    def threads(self) -> int:
        """Threads per worker for Flask and token lookups (0: none, all in the loop).

        Auto: 8, so that requests waiting on database round trips do not queue every
        other request (docs/performance-notes.md, round 3); 2 where reads always run in the loop and
        the threads only serve writes (a password hash, SQLite's write lock), unless the
        dashboard calls other services, whose waits are in the threads too."""
        if self.wsgi_threads is not None:
            return self.wsgi_threads
        return 2 if self.reads_in_loop and not self.dashboard_calls_network else 8

    @property
    def dashboard_calls_network(self) -> bool:
        """Whether a dashboard source is another service: its requests then wait on the
        network in the threads, so there must be enough of them."""
        sources = (self.dashboard_profile_url, self.dashboard_stats_url)
        return any((*sources, self.dashboard_notifications_url))

    @property
    def configured_secret(self) -> bytes | None:
        """`APP_SECRET` as the key material it is, or None: the database's secret."""
        return self.app_secret.encode("utf-8") if self.app_secret else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        environment = env.get("APP_ENV", "development").strip() or "development"
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")
        cooldown = _seconds(env, "BREAKER_COOLDOWN", 0.5, minimum=0.01)
        return cls(
            environment=environment,
            database_url=env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            ratelimit_storage_uri=_storage_uri(env.get("RATELIMIT_STORAGE_URI", "")),
            ratelimit_enabled=_boolean(env, "RATELIMIT_ENABLED", default=True),
            ratelimit_scale=_integer(env, "RATELIMIT_SCALE", 1, minimum=1),
            cors_origins=_origins(env.get("CORS_ORIGINS", "")),
            trusted_proxy_hops=_integer(env, "TRUSTED_PROXY_HOPS", 0, minimum=0),
            max_body_bytes=_integer(env, "MAX_BODY_BYTES", 1_048_576, minimum=1),
            validate_responses=_boolean(
                env, "VALIDATE_RESPONSES", default=environment != "production"
            ),
            wsgi_threads=_auto_integer(env, "WSGI_THREADS", minimum=0),
            inline_reads=_auto_boolean(env, "INLINE_READS"),
            database_connect_timeout=_seconds(env, "DATABASE_CONNECT_TIMEOUT", 2.0, minimum=1),
            database_pool_timeout=_seconds(env, "DATABASE_POOL_TIMEOUT", 2.0, minimum=0.01),
            database_statement_timeout=_seconds(
                env, "DATABASE_STATEMENT_TIMEOUT", 3.0, minimum=0.01
            ),
            database_request_timeout=_seconds(env, "DATABASE_REQUEST_TIMEOUT", 4.0, minimum=0.01),
            ratelimit_storage_timeout=_seconds(env, "RATELIMIT_STORAGE_TIMEOUT", 0.5, minimum=0.01),
            breaker_failures=_integer(env, "BREAKER_FAILURES", 3, minimum=1),
            breaker_cooldown=cooldown,
            breaker_max_cooldown=_longest_cooldown(env, cooldown),
            token_ttl_seconds=_integer(env, "TOKEN_TTL_SECONDS", 7 * 24 * 3600, minimum=1),
            dashboard_profile_url=_base_url(env, "DASHBOARD_PROFILE_URL"),
            dashboard_stats_url=_base_url(env, "DASHBOARD_STATS_URL"),
            dashboard_notifications_url=_base_url(env, "DASHBOARD_NOTIFICATIONS_URL"),
            dashboard_timeout=_integer(env, "DASHBOARD_TIMEOUT_MS", 800, minimum=1) / 1000,
            password_hash_time_cost=_integer(env, "PASSWORD_HASH_TIME_COST", 3, minimum=1),
            password_hash_memory_kib=_integer(env, "PASSWORD_HASH_MEMORY_KIB", 65536, minimum=8),
            count_exact_limit=_integer(env, "COUNT_EXACT_LIMIT", 1000, minimum=0),
            search_timeout=_seconds(env, "SEARCH_TIMEOUT", 0.5, minimum=0.001),
            app_secret=_secret(env),
            log_format=_choice(env, "LOG_FORMAT", "text", LOG_FORMATS),
            metrics_port=_port(env, "METRICS_PORT", DEFAULT_METRICS_PORT),
            metrics_host=env.get("METRICS_HOST", "").strip() or "127.0.0.1",
            metrics_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or None,
        )


def main() -> int:
    """`make settings` (run before `make run`, `make serve` and `make migrate`): read the
    environment as the service will, and name a bad variable in one line."""
    try:
        Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
