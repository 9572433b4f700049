"""asyncio's event loop, accepting a few connections per wake-up: for `make serve`'s workers.

Reaches into asyncio's private `BaseSelectorEventLoop._accept_connection` (its
`backlog` argument is how many connections one wake-up accepts); canary in
tests/patches/.
"""

from __future__ import annotations

import asyncio
from typing import Any

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
        backlog: int = 100,  # noqa: ARG002 (replaced by ACCEPTS_PER_WAKEUP)
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super()._accept_connection(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, ACCEPTS_PER_WAKEUP, *args, **kwargs
        )


def fair_accept_loop() -> asyncio.AbstractEventLoop:
    return FairAcceptLoop()
