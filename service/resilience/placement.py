"""Where a request runs: in the event loop's thread, or in the app's threads. This module
alone decides it; the bridge to Flask (service/patches/flask_bridge.py) asks it.

- An operation that waits on nothing (no 503 in the contract: the liveness probe) runs
  in the loop, always.
- Reads run in the loop where nothing they wait on can go silent: the database is a file
  on this machine (SQLite) and rate limits are counted in memory. Skipping the two thread
  hand-offs makes them 1.1-1.3x faster (docs/performance.md). Elsewhere (PostgreSQL,
  Redis) they run in the threads, where a wait holds one thread, not the whole worker.
  `INLINE_READS=true|false` overrides the rule (for measuring it).
- An operation that calls other services (the dashboard) never runs in the loop.
- Everything else runs in the threads; `WSGI_THREADS=0` runs everything in the loop.

An earlier version moved reads between the loop and the threads as the database's
latency changed; it gained 0.93-1.06x on PostgreSQL on the same host, within noise, for
ten modules' worth of mechanism (docs/decisions/0007-where-requests-run.md).
"""

from __future__ import annotations

from service.plan import Plan
from service.settings import Settings


class Placement:
    def __init__(self, settings: Settings) -> None:
        self.threads = settings.threads
        self.reads_in_loop = settings.reads_in_loop

    def in_loop(self, plan: Plan) -> bool:
        """Whether a request of this operation runs in the event loop's thread."""
        if self.threads == 0 or not plan.waits_on_dependencies:
            return True
        return self.reads_in_loop and plan.is_read and not plan.calls_upstreams
