"""The production worker's event loop takes a burst of connections a few at a time, so
that the workers sharing a listening socket share the connections too."""

from __future__ import annotations

import asyncio
import socket

from service.patches.fair_accept import ACCEPTS_PER_WAKEUP, FairAcceptLoop


def pending_connections(listener: socket.socket) -> int:
    """Accept (and close) whatever is still waiting in the listen queue."""
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def accepted_in_one_wakeup(loop: asyncio.AbstractEventLoop, burst: int) -> tuple[int, int]:
    """(connections the loop accepted when its listener woke it once, connections left)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.setblocking(False)  # noqa: FBT003
    clients = [socket.create_connection(listener.getsockname()) for _ in range(burst)]
    transports: list[asyncio.BaseTransport] = []

    class Accepted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(transport)

    async def wake_once() -> None:
        server = asyncio.Server(loop, [], Accepted, None, 100, None, None)
        loop._accept_connection(Accepted, listener, None, server)  # type: ignore[attr-defined]  # noqa: SLF001
        for _ in range(10):  # let the accepted connections finish their set-up
            await asyncio.sleep(0)

    try:
        loop.run_until_complete(wake_once())
        return len(transports), pending_connections(listener)
    finally:
        for transport in transports:
            transport.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        for client in clients:
            client.close()
        listener.close()


def test_a_burst_is_accepted_a_few_connections_per_wakeup():
    assert accepted_in_one_wakeup(FairAcceptLoop(), burst=10) == (
        ACCEPTS_PER_WAKEUP,
        10 - ACCEPTS_PER_WAKEUP,
    )


def test_asyncio_alone_would_take_the_whole_burst():
    assert accepted_in_one_wakeup(asyncio.SelectorEventLoop(), burst=10) == (10, 0)
