"""gunicorn's hooks for `make serve` (`-c python:service.gunicorn_conf`): Prometheus
metrics summed over every worker (prometheus-client's multiprocess mode).

- `on_starting`: each server start gets a fresh `PROMETHEUS_MULTIPROC_DIR` (a new
  temporary directory, or the one given emptied of metric files), set in the arbiter's
  environment before any worker is forked. prometheus-client decides at import whether
  to write metrics to files there, and workers import the app after the fork.
- `when_ready`: the arbiter serves `GET /metrics` on METRICS_HOST:METRICS_PORT, summing
  every worker's files: a scrape never lands on one worker's share, nor waits behind a
  busy worker, and the API's port does not serve it.
- `post_fork`: a worker closes its copy of the metrics socket (the arbiter answers it).
  Traces need no hook: the app (`create_app()`, no `preload_app`) is built in each worker
  after the fork, so each worker has its own tracer provider, batch span processor and
  export thread (service/observability/tracing.py), and exports its own spans.
- `child_exit`: a dead worker's live gauges (pool in use, breaker state) are dropped
  (`mark_process_dead`); its counters stay, as counters never go down.
- `on_exit`: the temporary directories are removed.

Reloads (service/patches/graceful_server.py): `on_starting` also makes a hand-over
directory (SERVICE_HANDOVER_DIR) where each worker, once it serves, writes a `ready-<pid>`
file; `on_reload` marks the time of a SIGHUP there before gunicorn makes the new workers,
so the old ones serve until the new ones are ready; `child_exit` removes a dead worker's
file. `graceful_timeout` is gunicorn's own bound on a stopping worker (then SIGKILL): the
worker's hand-over and drain bounds stay under it.

gunicorn reads this module's globals as settings: only the hooks are public here.
"""

from __future__ import annotations

import os as _os
import shutil as _shutil
import tempfile as _tempfile
from pathlib import Path as _Path
from typing import Any as _Any

from service.patches.graceful_server import DRAIN_SECONDS as _DRAIN
from service.patches.graceful_server import HANDOVER_DIRECTORY as _HANDOVER
from service.patches.graceful_server import HANDOVER_SECONDS as _HANDOVER_SECONDS
from service.patches.graceful_server import READY_PREFIX as _READY
from service.patches.graceful_server import RELOAD_MARK as _RELOAD
from service.settings import Settings as _Settings

# gunicorn's setting: a stopping worker still alive after this is killed.
graceful_timeout = int(_HANDOVER_SECONDS + _DRAIN + 5)
# gunicorn's control socket is one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn): two
# instances on one host would take it from each other. Signals (systemd) drive the server.
control_socket_disable = True

_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# Set on the arbiter: the directory this start made, to remove when it stops, and the
# metrics server.
_MADE = "metrics_directory_made"
_SERVER = "metrics_server"
_HANDOVER_MADE = "handover_directory_made"


def on_starting(server: _Any) -> None:
    handover = _tempfile.mkdtemp(prefix="handover-")
    setattr(server, _HANDOVER_MADE, handover)
    _os.environ[_HANDOVER] = handover
    given = _os.environ.get(_DIRECTORY, "").strip()
    if given:
        _Path(given).mkdir(parents=True, exist_ok=True)
        for stale in _Path(given).glob("*.db"):
            stale.unlink()
        return
    made = _tempfile.mkdtemp(prefix="metrics-")
    setattr(server, _MADE, made)
    _os.environ[_DIRECTORY] = made


def when_ready(server: _Any) -> None:
    from service.observability.metrics import scrape_registry, serve_metrics

    settings = _Settings.from_env()
    metrics_server = serve_metrics(settings, scrape_registry(settings))
    if metrics_server is not None:
        setattr(server, _SERVER, metrics_server)
        server.log.info(
            "Metrics served on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port
        )


def post_fork(server: _Any, _worker: _Any) -> None:
    metrics_server = getattr(server, _SERVER, None)
    if metrics_server is not None:
        metrics_server.socket.close()


def on_reload(_server: _Any) -> None:
    import time

    _Path(_os.environ[_HANDOVER], _RELOAD).write_text(repr(time.time()))


def child_exit(_server: _Any, worker: _Any) -> None:
    from prometheus_client import multiprocess

    _Path(_os.environ[_HANDOVER], f"{_READY}{worker.pid}").unlink(missing_ok=True)

    multiprocess.mark_process_dead(worker.pid, _os.environ[_DIRECTORY])  # type: ignore[no-untyped-call]


def on_exit(server: _Any) -> None:
    for name in (_MADE, _HANDOVER_MADE):
        made = getattr(server, name, None)
        if made:
            _shutil.rmtree(made, ignore_errors=True)
