"""The access log: one line per request, written by the service itself (uvicorn's and
gunicorn's own access logs are off: they log raw paths, query strings included, and know
neither the operation nor the caller).

It says when (the record's time), which request (its id), who asked (the client's
address, as TRUSTED_PROXY_HOPS reads it; the caller's user id, if a token was
accepted), what for (method, the contract's route template, never the raw path; the
operationId, or `unrouted`), and how it went (status, milliseconds). Nothing a client
sent is written: no body, query, header, token, password or email.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

logger = logging.getLogger("access")

TEXT = "client=%s method=%s route=%s operation=%s status=%d duration_ms=%.1f user=%s"
# What a text line may show as it is; anything else (an address read from a trusted
# proxy's header) is quoted, so that no value can forge a field or a line.
_PLAIN = re.compile(r"[A-Za-z0-9._:\[\]{}/-]+")


@dataclass(frozen=True)
class AccessEntry:
    client: str
    method: str
    route: str
    operation: str
    status: int
    duration_ms: float
    user: str | None


def _plain(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else json.dumps(value)


def write(entry: AccessEntry) -> None:
    """Log `entry` at INFO: a text line, or its fields as JSON keys (service.log_format)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "client": entry.client,
        "method": entry.method,
        "route": entry.route,
        "operation": entry.operation,
        "status": entry.status,
        "duration_ms": round(entry.duration_ms, 3),
        "user": entry.user,
    }
    logger.info(
        TEXT,
        _plain(entry.client),
        entry.method,
        entry.route,
        entry.operation,
        entry.status,
        entry.duration_ms,
        entry.user or "-",
        extra={"fields": fields},
    )
