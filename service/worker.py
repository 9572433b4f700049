"""gunicorn's worker class for `make serve`: uvicorn with httptools and asyncio's own
event loop, without a `Server` header (the server's name and version are not advertised),
without uvicorn's own reading of proxy headers, and without uvicorn's access log (the
service writes its own: service/observability/access_log.py).

Why not uvloop: reads run in the event loop (service/patches/flask_bridge.py), and when a busy
uvloop loop runs callbacks that do real work it serves new requests before finishing
older ones, so a few wait very long (MagicStack/uvloop#123). Measured here with
64 connections on one worker: uvloop p50 75 ms, p99 1,340 ms; asyncio p50 79 ms, p99
124 ms, for 3 % less throughput (docs/performance-notes.md).

Stopping, reloading and keep-alive: uvicorn's server and protocol as
service/patches/graceful_server.py changes them (a reload hands over to ready workers,
a stop drains within a bound, connections are closed after a bounded life, headers have
a time limit); docs/operations.md says what each bound is for.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, ClassVar

from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from uvicorn_worker import UvicornWorker

from service.patches.graceful_server import HANDOVER_DIRECTORY, Connection, GracefulServer, Handover


class Worker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "server_header": False,
        # TRUSTED_PROXY_HOPS alone decides what X-Forwarded-For is worth (see
        # service/edge/client_address.py); uvicorn would otherwise rewrite the client address
        # from it for any peer in FORWARDED_ALLOW_IPS (127.0.0.1 by default).
        "proxy_headers": False,
        "loop": "service.patches.fair_accept:fair_accept_loop",
        "http": Connection,
        "access_log": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made by the arbiter: after any reload that replaces it, before any that does not.
        self.made_at = time.time()

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        handover = Handover(os.environ.get(HANDOVER_DIRECTORY), self.made_at, self.cfg.workers)
        server = GracefulServer(self.config, handover)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
