"""A TCP proxy that injects faults between the service and a real server (PostgreSQL, Redis).

    with FaultProxy(upstream=("127.0.0.1", 5432)) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/db"
        proxy.set_mode(SILENT)      # or "silent"; REFUSE / "refuse"; latency(200); PASS / "pass"
        ...
        proxy.set_mode(PASS)

It runs an asyncio loop in a background thread; `set_mode` returns once the loop has
applied the mode, to new and existing connections alike:

- `pass`: bytes go both ways as they come.
- `refuse`: every open connection is cut with a reset (RST), and each new one is accepted
  and reset at once: the client sees "connection reset" or "closed unexpectedly" within
  a round trip on loopback, never a wait.
- `silent`: a black hole. Connections are accepted and read from, but nothing is forwarded
  either way, so every request waits for an answer that does not come. What was read is
  held, in order (at most `HELD_CHUNKS` chunks per direction, then reading stops, as a full
  TCP window would), and delivered when the mode forwards again: a partition that heals
  or a peer that wakes up, not a stream that loses bytes. A connection accepted while
  silent reaches the upstream only when the mode forwards again.
- `latency(ms)`: each chunk is forwarded `ms` after it was read, in each direction, in
  order; a request and its answer take at least 2 x `ms` more.

`stop()` (or leaving the `with` block) resets every connection, closes the listener and
joins the thread, however stuck the clients are.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self, TypeAlias

ModeName: TypeAlias = Literal["pass", "refuse", "silent", "latency"]

# Chunks read and not yet forwarded, per direction of a connection; then reading stops.
HELD_CHUNKS = 64
CHUNK_BYTES = 65_536
UPSTREAM_CONNECT_TIMEOUT = 5.0
# How long the test thread waits for the proxy's loop to start, apply a mode or stop.
CONTROL_TIMEOUT = 5.0


@dataclass(frozen=True)
class Mode:
    """What the proxy does with traffic; `delay` (seconds) only for latency."""

    name: ModeName
    delay: float = 0.0

    def __str__(self) -> str:
        return f"latency({self.delay * 1000:g} ms)" if self.name == "latency" else self.name


PASS = Mode("pass")
REFUSE = Mode("refuse")
SILENT = Mode("silent")


def latency(ms: float) -> Mode:
    """Forward each chunk `ms` milliseconds after it was read, in each direction."""
    if ms < 0:
        raise ValueError(f"latency must not be negative, got {ms} ms")
    return Mode("latency", ms / 1000)


def _mode_of(mode: Mode | Literal["pass", "refuse", "silent"]) -> Mode:
    if isinstance(mode, Mode):
        return mode
    named = {"pass": PASS, "refuse": REFUSE, "silent": SILENT}
    if mode not in named:
        raise ValueError(f"unknown mode {mode!r}; use pass, refuse, silent or latency(ms)")
    return named[mode]


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy started."""

    accepted: int  # connections accepted, including those reset at once (refuse)
    refused: int  # connections reset on arrival because the mode was refuse
    cut: int  # open connections reset when the mode became refuse
    open: int  # connections open now
    bytes_up: int  # forwarded from clients to the upstream
    bytes_down: int  # forwarded from the upstream to clients

    @property
    def bytes_forwarded(self) -> int:
        return self.bytes_up + self.bytes_down


class _Cut(Exception):
    """The proxy cut this connection (refuse mode)."""


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with a reset (RST), not a polite FIN, and drop whatever is unsent."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Switch:
    """The mode as the proxy's loop sees it, what transfers wait on, what they counted."""

    def __init__(self) -> None:
        self.mode = PASS
        self.changed = asyncio.Event()  # replaced, after being set, at each change
        self.forwarded = {"up": 0, "down": 0}

    def set(self, mode: Mode) -> None:
        self.mode = mode
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()  # wakes every transfer waiting for the mode to change

    async def until_forwarding(self) -> None:
        """Until the mode lets traffic through (pass or latency); a cut in refuse."""
        while True:
            changed = self.changed
            if self.mode.name in ("pass", "latency"):
                return
            if self.mode.name == "refuse":
                raise _Cut
            await changed.wait()

    async def until_forwardable(self, read_at: float) -> None:
        """Until a chunk read at `read_at` may go: now in pass, `delay` after in latency,
        not while silent; a cut in refuse."""
        while True:
            changed, mode = self.changed, self.mode
            if mode.name == "pass":
                return
            if mode.name == "refuse":
                raise _Cut
            if mode.name == "silent":
                await changed.wait()
                continue
            remaining = read_at + mode.delay - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def count(self, direction: Literal["up", "down"], size: int) -> None:
        self.forwarded[direction] += size


class _Link:
    """One client connection and, once the mode lets traffic through, its upstream."""

    def __init__(
        self,
        switch: _Switch,
        upstream: tuple[str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.switch = switch
        self.upstream = upstream
        self.client_reader = reader
        self.client_writer = writer
        self.upstream_writer: asyncio.StreamWriter | None = None
        # (when read, chunk); None: end of stream.
        self.to_upstream: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(HELD_CHUNKS)
        self.to_client: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(HELD_CHUNKS)
        self.tasks: list[asyncio.Task[None]] = []
        self.was_cut = False

    async def run(self) -> None:
        """Forward until both directions have ended (then close politely), or until either
        side fails or the proxy cuts the link (then reset both)."""
        ended = False
        try:
            async with asyncio.TaskGroup() as group:
                self.tasks = [
                    group.create_task(self._read(self.client_reader, self.to_upstream)),
                    group.create_task(self._upstream_side(group)),
                    group.create_task(self._write(self.to_client, self.client_writer, "down")),
                ]
            ended = not self.was_cut
        except* (OSError, asyncio.IncompleteReadError, _Cut):
            pass  # either side went away, or the proxy cut the link
        finally:
            if ended:
                await self._close()
            else:
                self.cut()

    def cut(self) -> None:
        """Reset both sides and stop every task of this link."""
        self.was_cut = True
        _reset(self.client_writer)
        _reset(self.upstream_writer)
        for task in self.tasks:
            task.cancel()

    async def _close(self) -> None:
        for writer in (self.client_writer, self.upstream_writer):
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError, TimeoutError):
                    await asyncio.wait_for(writer.wait_closed(), CONTROL_TIMEOUT)

    async def _upstream_side(self, group: asyncio.TaskGroup) -> None:
        await self.switch.until_forwarding()
        host, port = self.upstream
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), UPSTREAM_CONNECT_TIMEOUT
        )
        self.upstream_writer = writer
        self.tasks.append(group.create_task(self._read(reader, self.to_client)))
        await self._write(self.to_upstream, writer, "up")

    @staticmethod
    async def _read(
        reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes] | None]
    ) -> None:
        while chunk := await reader.read(CHUNK_BYTES):
            await queue.put((time.monotonic(), chunk))
        await queue.put(None)

    async def _write(
        self,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
        direction: Literal["up", "down"],
    ) -> None:
        while (item := await queue.get()) is not None:
            read_at, chunk = item
            await self.switch.until_forwardable(read_at)
            writer.write(chunk)
            await writer.drain()
            self.switch.count(direction, len(chunk))
        if writer.can_write_eof() and not writer.transport.is_closing():
            writer.write_eof()


class FaultProxy:
    """A TCP proxy on 127.0.0.1 to `upstream`, whose mode tests switch at any time."""

    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = upstream
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._switch = _Switch()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        # Changed in the loop's thread only.
        self._stopping: asyncio.Event | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._accepted = self._refused = self._cut = 0

    # --- the test thread's side -------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy has not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def mode(self) -> Mode:
        return self._switch.mode

    @property
    def stats(self) -> ProxyStats:
        return ProxyStats(
            accepted=self._accepted,
            refused=self._refused,
            cut=self._cut,
            open=len(self._links),
            bytes_up=self._switch.forwarded["up"],
            bytes_down=self._switch.forwarded["down"],
        )

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the proxy has already started")
        self._thread = threading.Thread(
            target=self._serve, name=f"fault-proxy-{self.upstream[1]}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(CONTROL_TIMEOUT):
            raise RuntimeError("the proxy did not start")
        if self._startup_error is not None:
            self._thread.join(CONTROL_TIMEOUT)
            raise RuntimeError("the proxy could not listen") from self._startup_error
        return self

    def set_mode(self, mode: Mode | Literal["pass", "refuse", "silent"]) -> None:
        """Switch modes; returns once new and existing connections follow the new one."""
        new = _mode_of(mode)
        loop = self._running_loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError("set_mode is called from the tests' threads, not the proxy's")
        asyncio.run_coroutine_threadsafe(self._apply(new), loop).result(CONTROL_TIMEOUT)

    @contextlib.contextmanager
    def fault(self, mode: Mode | Literal["pass", "refuse", "silent"]) -> Iterator[Self]:
        """`mode` inside the block, the mode before it afterwards."""
        before = self.mode
        self.set_mode(mode)
        try:
            yield self
        finally:
            self.set_mode(before)

    def stop(self) -> None:
        """Reset every connection, stop listening and join the thread. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or not thread.is_alive():
            return
        stopping = self._stopping
        if stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        thread.join(CONTROL_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("the proxy's thread did not stop")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._port else "not started"
        return f"FaultProxy({where} -> {self.upstream[0]}:{self.upstream[1]}, {self.mode})"

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            raise RuntimeError("the proxy is not running")
        return self._loop

    # --- the proxy's loop -------------------------------------------------------------

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as error:  # reported to start(), which is waiting
            self._startup_error = error
        finally:
            self._ready.set()
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.wait(leftovers, timeout=CONTROL_TIMEOUT))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._accept, self.host, self._requested_port, reuse_address=True, backlog=128
        )
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for link in list(self._links):
                link.cut()
            if self._handlers:
                await asyncio.wait(self._handlers, timeout=CONTROL_TIMEOUT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), CONTROL_TIMEOUT)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._accepted += 1
        if self._switch.mode.name == "refuse":
            self._refused += 1
            _reset(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        link = _Link(self._switch, self.upstream, reader, writer)
        self._links.add(link)
        self._handlers.add(task)
        try:
            await link.run()
        finally:
            self._links.discard(link)
            self._handlers.discard(task)

    async def _apply(self, mode: Mode) -> None:
        self._switch.set(mode)
        if mode.name == "refuse":
            for link in list(self._links):
                self._cut += 1
                link.cut()
