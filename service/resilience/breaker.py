"""A circuit breaker that lets one request at a time probe a dependency.

pybreaker counts consecutive failures, opens the circuit, and half-opens it after the
cooldown; but half-open, it lets every caller through. With a silent dependency that
would send every request arriving after the cooldown into the same wait, so a probe
lock lets the first caller probe and answers the others at once, as if still open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pybreaker


class BreakerOpen(Exception):
    """The dependency failed recently: not tried, to be retried after `retry_after`."""

    def __init__(self, name: str, retry_after: int) -> None:
        super().__init__(f"the circuit breaker of {name} is open")
        self.name = name
        self.retry_after = retry_after


class _StateListener(pybreaker.CircuitBreakerListener):
    def __init__(self, follow: Callable[[str], None]) -> None:
        self.follow = follow

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,  # noqa: ARG002 (pybreaker's signature)
        old_state: pybreaker.CircuitBreakerState | None,  # noqa: ARG002
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        self.follow(str(new_state.name))


class Breaker:
    """Opens after `failures` consecutive failures (exceptions `is_failure` accepts),
    refuses calls for `cooldown` seconds, then lets one call probe: closed again if
    it succeeds, open for another cooldown if not."""

    def __init__(
        self,
        name: str,
        *,
        failures: int,
        cooldown: float,
        is_failure: Callable[[BaseException], bool],
    ) -> None:
        self.name = name
        self.cooldown = cooldown
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failures,
            reset_timeout=cooldown,
            exclude=[lambda error: not is_failure(error)],
            name=name,
            throw_new_error_on_trip=False,  # the caller sees the failure itself
        )
        self._probe = threading.Lock()

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`."""
        return str(self._breaker.current_state)

    def on_change(self, follow: Callable[[str], None]) -> None:
        """Call `follow` with the state now and with each new state (metrics)."""
        self._breaker.add_listener(_StateListener(follow))
        follow(self.state)

    @property
    def is_closed(self) -> bool:
        return self.state == pybreaker.STATE_CLOSED

    def refusal(self) -> BreakerOpen:
        return BreakerOpen(self.name, max(round(self.cooldown + 0.49), 1))

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Run the block unless the breaker is open; count how it ends."""
        probing = not self.is_closed
        if probing and not self._probe.acquire(blocking=False):
            raise self.refusal()  # another request is probing now
        try:
            with ExitStack() as stack:
                try:
                    stack.enter_context(self._breaker.calling())
                except pybreaker.CircuitBreakerError:
                    raise self.refusal() from None
                yield
        finally:
            if probing:
                self._probe.release()
