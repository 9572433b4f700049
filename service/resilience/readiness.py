"""Readiness: whether this instance should be sent requests, told to anyone; what is
down, told to operators only.

`GET /api/ready` is anonymous and not rate limited, so its answer is ready or not,
nothing more. The instance is ready while its database answers: without the shared
rate-limit storage requests are still served (without limits, service/access/
rate_limits.py), and every instance shares that storage, so taking them out of rotation
would turn a limits outage into a full one, and a public 503 would tell anyone when
guessing passwords goes unlimited. What each dependency does goes where operators look:
this log (a line when a dependency stops or starts answering, then at most once per
`LOG_INTERVAL` while it stays down) and the metrics port (`circuit_breaker_state`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from models.errors import DomainError

if TYPE_CHECKING:
    from models.db import Database
    from service.access.rate_limits import RateLimits

logger = logging.getLogger(__name__)

LOG_INTERVAL = 60.0
DATABASE = "database"
STORAGE = "rate-limit storage"


class Readiness:
    """Asks the database and the rate-limit storage, each within its own bounds (its
    timeouts and circuit breaker), and says what it found in the log."""

    def __init__(
        self, database: Database, rate_limits: RateLimits, interval: float = LOG_INTERVAL
    ) -> None:
        self.database = database
        self.rate_limits = rate_limits
        self.interval = interval
        # Per dependency: when its outage was last written (absent: it answers).
        self._down_since_said: dict[str, float] = {}
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """True while the database answers; the storage is asked only for the log."""
        try:
            with self.database.read() as connection:
                connection.exec_driver_sql("SELECT 1")
        except DomainError as error:  # Unavailable: down, timed out, or its breaker is open
            self._down(DATABASE, f"Not ready: the database does not answer ({error.message})")
            database = False
        else:
            self._up(DATABASE, "Ready again: the database answers")
            database = True
        if self.rate_limits.storage_answers() is False:
            self._down(
                STORAGE,
                "The rate-limit storage does not answer: requests are served without rate limits",
            )
        else:
            self._up(STORAGE, "The rate-limit storage answers again: requests are rate limited")
        return database

    def _down(self, dependency: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            said = self._down_since_said.get(dependency)
            if said is not None and now - said < self.interval:
                return
            self._down_since_said[dependency] = now
        logger.warning("%s", message)

    def _up(self, dependency: str, message: str) -> None:
        with self._lock:
            if self._down_since_said.pop(dependency, None) is None:
                return
        logger.info("%s", message)
