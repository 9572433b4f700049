"""Worker classes for trying the service under another event loop (BENCH_VARIANTS).

`UvloopWorker` is the service's worker (service.worker.Worker) on uvloop, the loop stock
uvicorn picks when it is installed, instead of asyncio's loop with a fair accept.
"""

from __future__ import annotations

from typing import Any, ClassVar

from service.worker import Worker


class UvloopWorker(Worker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {**Worker.CONFIG_KWARGS, "loop": "uvloop"}
