"""Where reads run: in the event loop while the database answers them at once, in the
app's threads otherwise.

A read in the loop skips two thread hand-offs (1.1-1.3x the threads on SQLite and on
PostgreSQL on the same host, README "Speed"), but while it waits on the database the
worker's loop waits too: every other request of the worker with it. So a read runs in
the loop only on its `ReadPlacement`'s terms:

- **Bounded.** A read in the loop (an `InlineAttempt`) may hold it for `bound` seconds
  of database work in all (`INLINE_READ_TIMEOUT`). Past it, the database watchdog cuts
  its connection (service/resilience/deadline.py), the guard raises `ReadMoved`, and the
  read is run again from the start in the threads, within what is left of the request's
  own deadline, and reads after it go to the threads for a while. Nothing of it was sent,
  a read is safe to repeat, and its rate limit counts it once (the count is kept in the
  request's scope). A read never opens a connection in the loop (libpq bounds a connect
  by whole seconds only): it starts in the loop only with a connection waiting in the
  pool, and one that finds none there after all moves alone.
- **Cheap.** The loop's wait of each unit of work in it (wall time less the thread's CPU
  time) is sampled if it made a round trip. When the typical wait of a window of them
  (its lower quartile: waits for the GIL behind the threads inflate a few, never all) is
  over `max_wait` (`INLINE_READ_MAX_WAIT`), a database a network hop away, reads go to
  the threads, where several can wait at once (in the loop they ran at 0.34-0.78x of the
  threads 0.5 ms away).
- **Retried.** After a move, reads stay in the threads for `retry` seconds, doubling
  each time the loop proves slow again (to `LONGEST_RETRY`), back to the first retry once
  a window is fast: a database that recovers or moves nearer gets the loop back. Reads
  stay in the threads while the database's circuit breaker is not closed (it failed just
  now) or no connection waits in its pool.

The placement is the app's (service/runtime.py) and touched only by the event loop's
thread of its worker: no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from models.errors import Unavailable

# Units of work sampled per decision: a few requests' worth.
WINDOW = 16
# A unit that waited less made no round trip (some make none): it says nothing of how
# far the database is. One on the same host waits 30-100 µs.
NO_ROUND_TRIP = 0.00001
FIRST_RETRY = 1.0
LONGEST_RETRY = 60.0


class ReadMoved(Unavailable):
    """A read in the event loop ran past its bound, or needed a new connection: it is
    run again in the threads (the bridge discards this answer; never sent, never logged)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Moved to the threads ({reason})", refused=True)
        self.reason = reason


class ReadPlacement:
    """Whether the next read runs in the loop (see the module's docstring).

    `max_wait` None: reads stay in the loop whatever they wait (SQLite, whose file
    cannot go silent, or `INLINE_READS=true`); they still move when cut at the bound.
    """

    def __init__(
        self,
        *,
        enabled: bool,
        bound: float,
        max_wait: float | None,
        ready: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.bound = bound
        self.max_wait = max_wait
        self.ready = ready  # the database's say (DatabaseGuard.ready_for_the_loop)
        self.clock = clock
        self.retry = FIRST_RETRY
        self.threads_until = float("-inf")
        self.samples: list[float] = []
        # Hears of each move to the threads: `slow` (a window's waits: reads after it),
        # `cut` (a read past the bound, and reads after it) or `connect` (one read that
        # needed a new connection); metrics count them.
        self.on_move: Callable[[str], None] = lambda _reason: None

    def inline(self) -> bool:
        """Whether a read starting now runs in the loop."""
        if not self.enabled or self.clock() < self.threads_until:
            return False
        return self.ready()

    def record(self, waited: float) -> None:
        """A unit of work in the loop waited `waited` seconds (wall time less CPU time)."""
        if self.max_wait is None or waited < NO_ROUND_TRIP:
            return
        self.samples.append(waited)
        if len(self.samples) < WINDOW:
            return
        typical = sorted(self.samples)[WINDOW // 4]
        self.samples.clear()
        if typical > self.max_wait:
            self.to_threads("slow")
        else:
            self.retry = FIRST_RETRY

    def to_threads(self, reason: str) -> None:
        """Reads go to the threads for a while (`reason`: see `on_move`)."""
        self.threads_until = self.clock() + self.retry
        self.retry = min(self.retry * 2, LONGEST_RETRY)
        self.samples.clear()
        self.on_move(reason)

    @contextmanager
    def attempt(self) -> Iterator[InlineAttempt]:
        """Run the block as a read in the loop: the database guard bounds it and samples it."""
        attempt = InlineAttempt(self)
        token = _attempt.set(attempt)
        try:
            yield attempt
        finally:
            _attempt.reset(token)


class InlineAttempt:
    """One read (or token lookup) running in the event loop."""

    __slots__ = ("deadline", "moved", "placement")

    def __init__(self, placement: ReadPlacement) -> None:
        self.placement = placement
        self.deadline: float | None = None
        self.moved = False

    def unit_deadline(self) -> float:
        """When its database work must be over: `bound` after its first unit started."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.placement.bound
        return self.deadline

    def move(self, reason: str) -> ReadMoved:
        """Give the read up in the loop (`cut` or `connect`); the error to raise out of it."""
        if not self.moved:
            self.moved = True
            if reason == "connect":
                self.placement.on_move(reason)
            else:
                self.placement.to_threads(reason)
        return ReadMoved(reason)


_attempt: ContextVar[InlineAttempt | None] = ContextVar("inline_attempt", default=None)


def inline_attempt() -> InlineAttempt | None:
    """The read in the loop this code runs for, if it does."""
    return _attempt.get()
