"""Log format with the request id on every record, and quiet framework chatter."""

from __future__ import annotations

import logging

from service.middleware.request_id import current_request_id

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Idempotent: safe to call from every `create_app`."""
    root = logging.getLogger()
    if not any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level)
    # Client errors are answered, not failures of the service: keep them out of the log.
    for name in (
        "connexion.middleware.validation",
        "connexion.validators",
        "connexion.operations",
        "connexion.security",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)
