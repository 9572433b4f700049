"""gunicorn's worker class for `make serve`: uvicorn with httptools and asyncio's own
event loop, without a `Server` header (the server's name and version are not advertised)
and without uvicorn's own reading of proxy headers.

Why not uvloop: reads run in the event loop (service/wsgi_bridge.py), and when a busy
uvloop loop runs callbacks that do real work it serves new requests before finishing
older ones, so a few wait very long (MagicStack/uvloop#123). Measured here with
64 connections on one worker: uvloop p50 75 ms, p99 1,340 ms; asyncio p50 79 ms, p99
124 ms, for 3 % less throughput (bench/README.md).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

# Connections a worker accepts per wake-up of its loop (asyncio's default: the listen
# backlog, 2,048). Measured with 64 connections opened at once on 2 workers: 16 and more
# let one worker take most of them; 1 and 2 spread them, but the last ones wait many busy
# loop turns to be accepted (p99 180-320 ms against 115 ms with 4).
ACCEPTS_PER_WAKEUP = 4


class FairAcceptLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, accepting a few connections per wake-up instead of all waiting ones.

    Workers share one listening socket. asyncio drains the whole accept queue in one go,
    so a burst of connections (a proxy's pool, a load test) can all land on one worker
    and stay there for their keep-alive life while the other idles: half the machine
    (seen here: every other run). Taking a few at a time, a busy worker takes fewer, and
    the connections spread over the workers. The listen queue keeps its full length.
    """

    def _accept_connection(
        self,
        protocol_factory: Any,
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super()._accept_connection(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, ACCEPTS_PER_WAKEUP, *args, **kwargs
        )


def fair_accept_loop() -> asyncio.AbstractEventLoop:
    return FairAcceptLoop()


class Worker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "server_header": False,
        # TRUSTED_PROXY_HOPS alone decides what X-Forwarded-For is worth (see
        # service/client_address.py); uvicorn would otherwise rewrite the client address
        # from it for any peer in FORWARDED_ALLOW_IPS (127.0.0.1 by default).
        "proxy_headers": False,
        "loop": "service.worker:fair_accept_loop",
        "http": "httptools",
    }
