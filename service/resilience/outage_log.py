"""Logs an operator can read during an outage.

Every failed request gets one line (its request id comes with every record, see
service/observability/logs.py); the traceback of a cause is written at most once per interval,
so an outage at a hundred requests a second writes a hundred short lines a second, not
a hundred tracebacks.
"""

from __future__ import annotations

import logging
import threading
import time

TRACEBACK_INTERVAL = 60.0
MESSAGE_CHARACTERS = 200


def cause_of(error: BaseException) -> BaseException:
    """The innermost exception `error` was raised from: what actually went wrong."""
    seen = {id(error)}
    while True:
        cause = error.__cause__
        if cause is None and not error.__suppress_context__:
            cause = error.__context__
        if cause is None or id(cause) in seen:
            return error
        seen.add(id(cause))
        error = cause


def where(error: BaseException) -> str:
    """The place an exception was raised, as file:line of its last frame."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    if traceback is None:
        return "?"
    code = traceback.tb_frame.f_code
    return f"{code.co_filename}:{traceback.tb_lineno}"


class OutageLog:
    """One line per failure; a traceback per distinct cause at most every `interval`."""

    def __init__(self, logger: logging.Logger, interval: float = TRACEBACK_INTERVAL) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def _traceback_due(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.interval) < self.interval:
                return False
            if len(self._last) > 1000:  # causes are few; never let the table grow unbounded
                self._last.clear()
            self._last[key] = now
            return True

    def failed(
        self, level: int, summary: str, error: BaseException, *, expected: bool = False
    ) -> None:
        """Log `summary` and the error's class; with the traceback of its cause (the
        innermost exception, its own frames only) if that cause's is due. `expected`:
        a refusal the service chose (a breaker open), which a traceback would not explain."""
        cause = cause_of(error)
        key = f"{type(cause).__qualname__}@{where(cause)}"
        line = f"{summary}: {type(error).__name__}"
        if cause is not error:
            line += f" from {type(cause).__module__}.{type(cause).__qualname__}"
        # The first line of what the cause says (a driver's words, never SQL parameters).
        said = str(cause).strip().splitlines()
        if said:
            line += f": {said[0][:MESSAGE_CHARACTERS]}"
        if not expected and self._traceback_due(key):
            self.logger.log(
                level,
                "%s (traceback once a minute per cause)",
                line,
                exc_info=(type(cause), cause, cause.__traceback__),
            )
        else:
            self.logger.log(level, "%s", line)
