"""Handlers of the `health` tag: liveness (touches nothing) and readiness (asks each
dependency, within its bounds)."""

from __future__ import annotations

from typing import Any

from service.http.errors import ApiError, ErrorCode
from service.runtime import current


def get_health() -> tuple[dict[str, Any], int]:
    """The process serves requests: nothing else is asked, so a dependency's outage never
    makes an orchestrator restart a healthy process."""
    return {"data": {"status": "ok"}}, 200


def get_readiness() -> tuple[dict[str, Any], int]:
    """Ready or not, and nothing more: anyone may ask, as often as they like. What is
    down (the database, the rate-limit storage) goes to the log and the metrics
    (service/resilience/readiness.py)."""
    if not current().readiness.ready():
        raise ApiError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The service is not ready; try again shortly",
            headers={"Retry-After": "1"},
        )
    return {"data": {"status": "ready"}}, 200
