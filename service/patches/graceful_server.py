"""uvicorn's server and HTTP protocol, made to stop without cutting a request and to let
keep-alive connections move between workers: for `make serve`'s workers (service/worker.py).

Reaches into uvicorn's `Server` (`on_tick`, `shutdown`, `startup`, `server_state`,
`servers`, `config.callback_notify`) and `HttpToolsProtocol` (`on_headers_complete`,
`on_response_complete`, `cycle.keep_alive`, `transport`); canary in tests/patches/.

What uvicorn does alone, and what this changes:

- **Stopping.** uvicorn closes its listener, tells each open connection to close once
  (idle ones at once, busy ones after their answer), then waits for every connection with
  no bound. A connection it accepted after that one call is never told, so under load an
  old worker goes on serving until gunicorn kills it mid-request (`WORKER TIMEOUT`,
  SIGKILL). Here every answer given while the worker stops carries `Connection: close`
  (whenever its connection was accepted), idle connections close by their keep-alive or
  header timer or after IDLE_SECONDS (a request racing that close is the same race as
  any keep-alive timeout, not a new one), the worker keeps telling gunicorn it is alive,
  and the wait is bounded (DRAIN_SECONDS): what is left then is closed, before gunicorn's
  own bound.
- **Reloading.** gunicorn's SIGHUP starts new workers and at once stops the old ones;
  the new ones load the app for 1-3 s while nobody accepts. Here an old worker stopped by
  a reload keeps serving until its replacements say they are ready (a file each in the
  hand-over directory) or HANDOVER_SECONDS pass; a worker stopped any other way (SIGTERM
  to the master, TTOU, a restart) stops at once.
- **Rebalancing.** A keep-alive connection is answered with `Connection: close` after
  MAX_REQUESTS requests or MAX_AGE_SECONDS of age, each jittered by ±JITTER, so the
  connections of a client or proxy spread again over the workers within seconds after one
  died, returned, or was replaced.
- **Slow headers.** A connection must send a request's headers within HEADER_SECONDS of
  being opened or of its last answer, however it trickles them; then it is closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from pathlib import Path
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server, ServerState

logger = logging.getLogger("uvicorn.error")

# An old worker replaced by a reload serves at most this long waiting for its replacements.
HANDOVER_SECONDS = 10.0
# Then, or at once when simply stopped, it answers what it holds at most this long. Both
# together stay under gunicorn's graceful_timeout (30 s, service/gunicorn_conf.py).
DRAIN_SECONDS = 15.0
# A connection has this long to send a request's headers (from its opening or last answer).
HEADER_SECONDS = 10.0
# While stopping, a connection idle this long (no request under way) is closed: as long as
# gunicorn's keep-alive (2 s), so it adds no race a keep-alive timeout does not have.
IDLE_SECONDS = 2.0
# A keep-alive connection serves at most this many requests, and lives at most this long.
MAX_REQUESTS = 1000
MAX_AGE_SECONDS = 5.0
JITTER = 0.25
TICK_SECONDS = 0.1
# The hand-over directory (made by service/gunicorn_conf.py for each server start).
HANDOVER_DIRECTORY = "SERVICE_HANDOVER_DIR"
RELOAD_MARK = "reload"
READY_PREFIX = "ready-"


def jittered(value: float) -> float:
    return value * random.uniform(1 - JITTER, 1 + JITTER)


class DrainState(ServerState):
    """uvicorn's state shared by a worker's connections, plus whether it is stopping."""

    def __init__(self) -> None:
        super().__init__()
        self.draining = False


class Connection(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded life and a header timeout."""

    def __init__(
        self, config: Config, server_state: ServerState, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(config, server_state, *args, **kwargs)
        self.opened = time.monotonic()
        self.requests = 0
        self.max_requests = round(jittered(MAX_REQUESTS))
        self.max_age = jittered(MAX_AGE_SECONDS)
        self.header_timer: asyncio.TimerHandle | None = None
        self.idle_since: float | None = None

    def draining(self) -> bool:
        return bool(getattr(self.server_state, "draining", False))

    def last_request(self) -> bool:
        return (
            self.draining()
            or self.requests >= self.max_requests
            or time.monotonic() - self.opened >= self.max_age
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm_header_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self.disarm_header_timer()
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:
            self.requests += 1
            if self.last_request():
                self.cycle.keep_alive = False  # the answer says `Connection: close`

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.arm_header_timer()

    def arm_header_timer(self) -> None:
        self.disarm_header_timer()
        self.idle_since = time.monotonic()
        self.header_timer = self.loop.call_later(HEADER_SECONDS, self.headers_too_slow)

    def disarm_header_timer(self) -> None:
        self.idle_since = None
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def headers_too_slow(self) -> None:
        self.header_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()

    def finish(self) -> None:
        """While the worker stops: the answer in progress is this connection's last, and a
        connection idle for IDLE_SECONDS (one that never sent a request too) is closed."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        elif (
            self.idle_since is not None
            and time.monotonic() - self.idle_since >= IDLE_SECONDS
            and not self.transport.is_closing()
        ):
            self.transport.close()


class Handover:
    """Whether an old worker may stop taking work: its replacements are ready (or it was
    not replaced, or they took too long)."""

    def __init__(self, directory: str | None, born: float, workers: int) -> None:
        self.directory = Path(directory) if directory else None
        self.born = born
        self.workers = workers
        self.reload_at: float | None = None
        self.deadline = 0.0

    def start(self) -> None:
        self.deadline = time.monotonic() + HANDOVER_SECONDS
        mark = self.directory / RELOAD_MARK if self.directory else None
        try:
            reload_at = float(mark.read_text()) if mark else None
        except (OSError, ValueError):
            reload_at = None
        # Replaced only by a reload marked after this worker was made.
        self.reload_at = reload_at if reload_at is not None and reload_at > self.born else None

    def done(self) -> bool:
        if self.reload_at is None or self.directory is None or time.monotonic() >= self.deadline:
            return True
        ready = 0
        for path in self.directory.glob(READY_PREFIX + "*"):
            try:
                ready += float(path.read_text() or 0) >= self.reload_at
            except (OSError, ValueError):
                continue
        return ready >= self.workers

    def ready(self) -> None:
        if self.directory is not None:
            path = self.directory / f"{READY_PREFIX}{os.getpid()}"
            path.write_text(repr(time.time()))


class GracefulServer(Server):
    """uvicorn's server with a hand-over on reload and a bounded drain on stop."""

    def __init__(self, config: Config, handover: Handover) -> None:
        super().__init__(config)
        self.server_state = DrainState()
        self.handover = handover
        self.handing_over = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.handover.ready()

    async def on_tick(self, counter: int) -> bool:
        stop = await super().on_tick(counter)
        if not (stop and self.should_exit):
            return stop  # running, or stopping for uvicorn's own reasons (max requests)
        if not self.handing_over:
            self.handing_over = True
            self.handover.start()
            if self.handover.reload_at is not None:
                logger.info("Serving until the new workers are ready")
        return self.force_exit or self.handover.done()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        logger.info("Shutting down")
        state = self.server_state
        if isinstance(state, DrainState):
            state.draining = True
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        deadline = time.monotonic() + DRAIN_SECONDS
        notified = 0.0
        while (state.connections or state.tasks) and not self.force_exit:
            now = time.monotonic()
            if now >= deadline:
                logger.error(
                    "Closing %d connection(s) still open after %.0f s",
                    len(state.connections),
                    DRAIN_SECONDS,
                )
                for task in state.tasks:
                    task.cancel(msg="graceful shutdown bound exceeded")
                for connection in list(state.connections):
                    connection.transport.close()
                break
            for connection in list(state.connections):
                if isinstance(connection, Connection):
                    connection.finish()
                else:
                    connection.shutdown()
            if self.config.callback_notify is not None and now - notified >= 1.0:
                notified = now
                await self.config.callback_notify()
            await asyncio.sleep(TICK_SECONDS)
        await asyncio.sleep(0)
        if not self.force_exit:
            await self.lifespan.shutdown()
