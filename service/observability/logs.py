"""How log records are written: readable text by default, one JSON object per line with
`LOG_FORMAT=json`; the request id on every record, and the trace id on those of a traced
request; framework chatter kept quiet.

Text:  `2026-11-25 12:00:00,000 INFO [6f1d…] access: client=127.0.0.1 method=GET …`
JSON:  `{"time": "2026-11-25T12:00:00.000Z", "level": "INFO", "logger": "access",
        "request_id": "6f1d…", "client": "127.0.0.1", "method": "GET", …}`

A record's `fields`, if it has any, become the JSON object's own keys; any other record
has a `message`, and an `exception` with its traceback, so that a traceback stays one
line too. Plain `json.dumps`: a dozen lines, where a logging library would be one more
dependency for them. (The access line is written straight to the stream in the same
shapes: service/observability/access_log.py.)
"""

from __future__ import annotations

import json
import logging
import time

from service.edge.scope import request_id, trace_id

# `trace` is ` trace=<id>` in a traced request, else empty (tracing is off by default).
FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s%(trace)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        record.trace_id = traced = trace_id()
        record.trace = f" trace={traced}" if traced else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, object] = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
        }
        traced = getattr(record, "trace_id", None)
        if traced:
            entry["trace_id"] = traced
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Idempotent: safe to call from every `create_app`; the last call's format holds."""
    root = logging.getLogger()
    ours: list[logging.Handler] = [
        h for h in root.handlers if any(isinstance(f, RequestIdFilter) for f in h.filters)
    ]
    if not ours:
        stream = logging.StreamHandler()
        stream.addFilter(RequestIdFilter())
        root.addHandler(stream)
        ours = [stream]
    for handler in ours:
        handler.setFormatter(formatter_for(log_format))
    root.setLevel(level)
    # Client errors are answered, not failures of the service: keep them out of the log.
    for name in (
        "connexion.middleware.validation",
        "connexion.validators",
        "connexion.operations",
        "connexion.security",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)
