"""Handlers of the `health` tag: liveness (touches nothing) and readiness (asks each
dependency, within its bounds)."""

from __future__ import annotations

from typing import Any

from models.errors import DomainError
from service.http.errors import ApiError, ErrorCode
from service.runtime import current


def get_health() -> tuple[dict[str, Any], int]:
    """The process serves requests: nothing else is asked, so a dependency's outage never
    makes an orchestrator restart a healthy process."""
    return {"data": {"status": "ok"}}, 200


def get_readiness() -> tuple[dict[str, Any], int]:
    """Whether every dependency answers now: the database and, when one is configured,
    the shared rate-limit storage. A 503 names each that does not (without the storage
    requests are still served, without limits: a balancer may choose to ignore that)."""
    runtime = current()
    down: list[dict[str, str]] = []
    database = "ok"
    try:
        with runtime.database.read() as connection:
            connection.exec_driver_sql("SELECT 1")
    except DomainError as error:  # Unavailable: down, timed out, or its breaker is open
        database = "unavailable"
        down.append({"field": "database", "message": error.message})
    answers = runtime.rate_limits.storage_answers()
    storage = {None: "memory", True: "ok", False: "unavailable"}[answers]
    if answers is False:
        message = "The rate-limit storage does not answer; requests are served without limits"
        down.append({"field": "rateLimitStorage", "message": message})
    if down:
        names = " and ".join(detail["field"] for detail in down)
        raise ApiError(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"Not ready: {names} unavailable",
            details=down,
            headers={"Retry-After": "1"},
        )
    return {"data": {"status": "ready", "database": database, "rateLimitStorage": storage}}, 200
