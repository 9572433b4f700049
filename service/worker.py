"""gunicorn's worker class for `make serve`: uvicorn with httptools and asyncio's own
event loop, without a `Server` header (the server's name and version are not advertised),
without uvicorn's own reading of proxy headers, and without uvicorn's access log (the
service writes its own: service/observability/access_log.py).

Why not uvloop: reads run in the event loop (service/patches/flask_bridge.py), and when a busy
uvloop loop runs callbacks that do real work it serves new requests before finishing
older ones, so a few wait very long (MagicStack/uvloop#123). Measured here with
64 connections on one worker: uvloop p50 75 ms, p99 1,340 ms; asyncio p50 79 ms, p99
124 ms, for 3 % less throughput (docs/performance-notes.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "server_header": False,
        # TRUSTED_PROXY_HOPS alone decides what X-Forwarded-For is worth (see
        # service/edge/client_address.py); uvicorn would otherwise rewrite the client address
        # from it for any peer in FORWARDED_ALLOW_IPS (127.0.0.1 by default).
        "proxy_headers": False,
        "loop": "service.patches.fair_accept:fair_accept_loop",
        "http": "httptools",
        "access_log": False,
    }
