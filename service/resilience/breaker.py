"""A circuit breaker whose probe runs beside the requests, and backs off (over pybreaker).

pybreaker counts consecutive failures and opens the circuit; half-open, it lets the next
caller through as its probe. That caller waits for the dependency's answer: the whole
timeout of a silent one (0.5 s for Redis, 4 s for PostgreSQL), and with a cooldown of
0.5 s nearly every request of slow traffic was such a probe. So here no request ever
probes:

- Closed, calls run and are counted (only the failures `is_failure` accepts).
- Open or half-open, every call is refused at once (`BreakerOpen`); its `retry_after` is
  the number of seconds until the next probe, at least 1.
- A probe (`probe`: the dependency's cheapest question, bounded by the dependency's own
  timeouts) runs in a daemon thread of the breaker's own, one at a time, while the breaker
  is half-open. Success closes the breaker; failure opens it for twice the last cooldown,
  from `cooldown` (BREAKER_COOLDOWN) up to `max_cooldown` (BREAKER_MAX_COOLDOWN). The next
  opening starts from `cooldown` again.
- The thread starts when the breaker opens and ends when it closes, when `stop()` is
  called (the app's database is disposed), or when no call was refused for
  `IDLE_EXIT_SECONDS` (an app dropped with its breaker open); the next refused call
  starts it again. The state (closed, open, half-open) and the counting are pybreaker's;
  this module only schedules the probes (`ProbeSchedule`) and never lets a caller in
  while the breaker is not closed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pybreaker

logger = logging.getLogger(__name__)

# Refused by no call for this long, the probing thread ends (the next refusal restarts it):
# apps dropped with a breaker open leave no thread behind for long.
IDLE_EXIT_SECONDS = 60.0

Clock = Callable[[], float]


class BreakerOpen(Exception):
    """The dependency failed recently: not tried, to be retried after `retry_after`."""

    def __init__(self, name: str, retry_after: int) -> None:
        super().__init__(f"the circuit breaker of {name} is open")
        self.name = name
        self.retry_after = retry_after


class ProbeFailed(Exception):
    """A probe did not get its answer: always a failure, whatever the dependency's rule."""


class ProbeSchedule:
    """When the next probe is due: `cooldown` after the breaker opened, then twice the last
    cooldown after each failed probe, up to `max_cooldown`; from `cooldown` again once a
    probe succeeded. Times are `clock()`'s (time.monotonic)."""

    def __init__(self, cooldown: float, max_cooldown: float, clock: Clock = time.monotonic) -> None:
        self.first = cooldown
        self.longest = max(max_cooldown, cooldown)
        self.clock = clock
        self.cooldown = cooldown
        self.due_at = clock()

    def opened(self) -> None:
        """The breaker opened after failed calls: the first cooldown."""
        self.cooldown = self.first
        self.due_at = self.clock() + self.cooldown

    def probe_failed(self) -> None:
        self.cooldown = min(self.cooldown * 2, self.longest)
        self.due_at = self.clock() + self.cooldown

    def closed(self) -> None:
        self.cooldown = self.first

    def seconds_left(self) -> float:
        """Until the next probe is due (0: due, or running)."""
        return max(self.due_at - self.clock(), 0.0)

    def retry_after(self) -> int:
        """What a refused caller is told: whole seconds until the next probe, at least 1."""
        return max(math.ceil(self.seconds_left()), 1)


class _StateListener(pybreaker.CircuitBreakerListener):
    def __init__(self, follow: Callable[[str, str], None]) -> None:
        self.follow = follow

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,  # noqa: ARG002 (pybreaker's signature)
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        self.follow("" if old_state is None else str(old_state.name), str(new_state.name))


class Breaker:
    """Opens after `failures` consecutive failures (exceptions `is_failure` accepts); then
    refuses every call at once while `probe` is tried in the background, after `cooldown`
    seconds, then after twice as long each time it fails, up to `max_cooldown`; closes
    when it succeeds (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        *,
        failures: int,
        cooldown: float,
        max_cooldown: float,
        is_failure: Callable[[BaseException], bool],
        probe: Callable[[], object],
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.schedule = ProbeSchedule(cooldown, max_cooldown, clock)
        self._probe = probe
        self._clock = clock
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None  # the one probing now, if any
        self._last_refused = clock()
        self._opened_at = clock()
        self.probes = 0  # probes run so far (tests, logs)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failures,
            # Informative only: the probing thread alone half-opens the breaker.
            reset_timeout=cooldown,
            exclude=[lambda error: not isinstance(error, ProbeFailed) and not is_failure(error)],
            listeners=[_StateListener(self._changed)],
            name=name,
            throw_new_error_on_trip=False,  # the caller sees the failure itself
        )

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`."""
        return str(self._breaker.current_state)

    @property
    def is_closed(self) -> bool:
        return self.state == pybreaker.STATE_CLOSED

    @property
    def probing(self) -> bool:
        """Whether a thread is probing (or waiting to) now."""
        with self._lock:
            return self._thread is not None

    def on_change(self, follow: Callable[[str], None]) -> None:
        """Call `follow` with the state now and with each new state (metrics)."""
        self._breaker.add_listener(_StateListener(lambda _old, new: follow(new)))
        follow(self.state)

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Run the block if the breaker is closed, and count how it ends; else refuse at
        once (`BreakerOpen`)."""
        if not self.is_closed:
            raise self._refusal()
        with ExitStack() as stack:
            try:
                stack.enter_context(self._breaker.calling())
            except pybreaker.CircuitBreakerError:  # opened since, by another call
                raise self._refusal() from None
            yield

    def stop(self) -> None:
        """End the probing thread (the app lets the dependency go); a later refusal starts
        another if the breaker is still open."""
        with self._lock:
            self._thread = None
            self._lock.notify_all()

    def _refusal(self) -> BreakerOpen:
        with self._lock:
            self._last_refused = self._clock()
            if self._thread is None and not self.is_closed:
                self._start_probing()
            return BreakerOpen(self.name, self.schedule.retry_after())

    def _changed(self, old: str, new: str) -> None:
        """pybreaker's state changed (under its lock): follow it in the schedule. A probe's
        failure is the probing thread's to count; so is reopening by a call that started
        before the breaker opened."""
        with self._lock:
            if new == pybreaker.STATE_OPEN and old == pybreaker.STATE_CLOSED:
                self.schedule.opened()
                self._breaker.reset_timeout = self.schedule.cooldown
                self._opened_at = self._last_refused = self._clock()
                logger.warning(
                    "The circuit breaker of %s opened: calls are refused at once, and it is "
                    "probed in the background after %g s",
                    self.name,
                    self.schedule.cooldown,
                )
                if self._thread is None:
                    self._start_probing()
            elif new == pybreaker.STATE_CLOSED and old != pybreaker.STATE_CLOSED:
                self.schedule.closed()
                self._breaker.reset_timeout = self.schedule.cooldown
                logger.warning(
                    "The circuit breaker of %s closed: a probe succeeded after %.1f s open",
                    self.name,
                    self._clock() - self._opened_at,
                )
            self._lock.notify_all()

    def _start_probing(self) -> None:
        """Under the lock."""
        thread = threading.Thread(target=self._probing, name=f"probe {self.name}", daemon=True)
        self._thread = thread
        thread.start()

    def _probing(self) -> None:
        """The probing thread: wait until a probe is due, run it, until the breaker closes
        (or the thread is stopped, or no one calls any more)."""
        me = threading.current_thread()
        while True:
            with self._lock:
                while True:
                    if self._thread is not me:
                        return
                    idle = self._clock() - self._last_refused >= IDLE_EXIT_SECONDS
                    if self.is_closed or idle:
                        self._thread = None
                        return
                    left = self.schedule.seconds_left()
                    if left <= 0:
                        break
                    self._lock.wait(left)
            if not self._probe_once():
                with self._lock:
                    self.schedule.probe_failed()
                    self._breaker.reset_timeout = self.schedule.cooldown

    def _probe_once(self) -> bool:
        """Half-open the breaker and run the probe through pybreaker, which closes the
        breaker if it succeeds and opens it again if not. Whether it succeeded."""
        self.probes += 1
        self._breaker.half_open()
        try:
            with self._breaker.calling():  # not `call`: it would hold pybreaker's lock
                try:
                    self._probe()
                except Exception as error:
                    raise ProbeFailed(self.name) from error
        except ProbeFailed as failed:
            cause = failed.__cause__
            logger.debug("Probe of %s failed: %r", self.name, cause)
            return False
        except pybreaker.CircuitBreakerError:  # reopened meanwhile by a late call
            return False
        return True
