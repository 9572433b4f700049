"""Each request's deadline for the database, and the watchdog that holds it.

A query waiting on a silent network never wakes: the peer (or a proxy) has acknowledged
every byte, so neither TCP keepalives nor `tcp_user_timeout` fire, and the server's
`statement_timeout` cannot be heard. The wait is in libpq's socket read, which no
Python-level timeout interrupts. So the watchdog, a thread of its own, shuts the socket
of a connection held past its deadline down (`shutdown(SHUT_RDWR)` on a duplicate of its
descriptor): the blocked read sees the end of the stream, psycopg raises, and SQLAlchemy
drops the connection from its pool. The request then fails with 503 instead of hanging.

The deadline is per request, not per statement: it starts when the request first needs
the database (its token lookup, usually) and bounds everything after, however many
connections, statements and threads it takes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from service.edge.scope import current_or_none

logger = logging.getLogger(__name__)

# Idle this long with nothing to watch, the watchdog's thread ends (a new one starts on
# demand): apps built and dropped by tests leave no thread behind for long.
IDLE_EXIT_SECONDS = 30.0


class _Unit(threading.local):
    """The deadline of the unit of work this thread runs, for the pool's checkout hook
    (a unit of work runs start to end in one thread)."""

    deadline: float | None = None


_unit = _Unit()


def request_deadline(seconds: float) -> float:
    """The current request's deadline, `seconds` after its first database work (or from
    now outside a request: a command, a test)."""
    scope = current_or_none()
    if scope is None:
        return time.monotonic() + seconds
    if scope.deadline is None:
        scope.deadline = time.monotonic() + seconds
    return scope.deadline


def set_unit_deadline(deadline: float | None) -> float | None:
    """Enter a unit of work with `deadline`; what to give `reset_unit_deadline` after."""
    previous = _unit.deadline
    _unit.deadline = deadline
    return previous


def reset_unit_deadline(previous: float | None) -> None:
    _unit.deadline = previous


def unit_deadline() -> float | None:
    return _unit.deadline


def cut(fileno: int) -> None:
    """Shut a socket down under whoever is blocked on it: they wake to the end of the
    stream. A duplicate descriptor is used, so the owner's stays valid until it closes."""
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fileno))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


class Watchdog:
    """Cuts each held connection's socket when its deadline passes, unless released."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Condition()
        # key -> (deadline, what gives the socket's descriptor now)
        self._held: dict[int, tuple[float, Callable[[], int]]] = {}
        self._thread: threading.Thread | None = None
        self._wakes_at = float("inf")  # when the watchdog's thread looks again
        self._cut: set[int] = set()  # keys cut and not released since
        self.cuts = 0

    def hold(self, key: int, deadline: float, fileno: Callable[[], int]) -> None:
        with self._lock:
            self._held[key] = (deadline, fileno)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name=f"watchdog-{self.name}", daemon=True
                )
                self._thread.start()
            elif deadline < self._wakes_at:
                # Only an earlier deadline wakes the thread: deadlines mostly come in
                # order, and a wake-up per query would cost every request a switch.
                self._lock.notify()

    def release(self, key: int) -> bool:
        """Stop watching `key`; whether it was cut meanwhile. A cut may land just as its
        owner finishes, blocked on nothing: the owner then never hears of it, and the
        connection must not go back to the pool as if alive."""
        with self._lock:
            self._held.pop(key, None)
            if key in self._cut:
                self._cut.discard(key)
                return True
            return False

    def _watch(self) -> None:
        idle_since = time.monotonic()
        with self._lock:
            while True:
                now = time.monotonic()
                due = [key for key, (deadline, _) in self._held.items() if deadline <= now]
                for key in due:
                    _, fileno = self._held.pop(key)
                    if self._cut_socket(fileno):
                        self._cut.add(key)
                if self._held:
                    idle_since = now
                    wait = min(deadline for deadline, _ in self._held.values()) - now
                elif now - idle_since >= IDLE_EXIT_SECONDS:
                    self._thread = None
                    return
                else:
                    wait = IDLE_EXIT_SECONDS
                wait = max(wait, 0.001)
                self._wakes_at = now + wait
                self._lock.wait(wait)

    def _cut_socket(self, fileno: Callable[[], int]) -> bool:
        try:
            descriptor = fileno()
        except Exception:  # closed meanwhile: nothing is waiting on it
            return False
        self.cuts += 1
        cut(descriptor)
        return True
