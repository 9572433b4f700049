"""Idempotent creates: `Idempotency-Key` on every POST that creates a resource.

The first successful create with a key is kept for 24 hours (models/idempotency.py, in
the create's own transaction) and replayed to the same caller's retries with the same
request: same status, body and `Location`/`ETag`, plus `Idempotent-Replayed: true`.
The same key with another request is 422 `IDEMPOTENCY_KEY_REUSED`; a retry that arrives
while the first is still running waits for it, and is 409 `IDEMPOTENCY_KEY_IN_USE` when
the first takes longer than half the statement timeout. A refused create keeps nothing,
so its key may be sent again. Callers are told apart by user id, anonymous ones by
client address.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import flask
from sqlmodel import Session

from models import idempotency
from models.idempotency import Answer
from service.access.caller import current_caller
from service.edge.scope import current as current_scope
from service.runtime import current

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
SECRET_FIELDS = frozenset({"password"})
Response = tuple[Any, int, dict[str, str]]


def _caller() -> str:
    caller = current_caller()
    if caller is not None:
        return f"user:{caller.id}"
    return f"address:{current_scope().client}"


def _fingerprint(body: Any) -> str:
    """The request a key stands for: method, path and body (as parsed JSON, so spacing
    and key order do not make two requests different), but its secrets: a fast hash of a
    password would be one an attacker holding the table could guess offline."""
    request = flask.request
    if isinstance(body, dict):
        body = {name: value for name, value in body.items() if name not in SECRET_FIELDS}
    canonical = json.dumps(
        [request.method, request.path, body], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def create(body: Any, make: Callable[[Session], Answer]) -> Response:
    """Run `make` in one unit of work, once per key: the kept answer for a retry."""
    key = flask.request.headers.get(HEADER)
    runtime = current()
    database = runtime.database
    # The answer's ETag needs the app's keys: read them before this unit of work holds
    # SQLite's write lock, which making a missing secret would wait on (models/app_secret.py).
    runtime.secret.keys()
    with database.session() as session:
        if key is None:
            answer = make(session)
        else:
            caller = _caller()
            wait = database.limits.statement_timeout / 2
            kept = idempotency.claim(session, caller, key, _fingerprint(body), wait)
            if kept is not None:
                return kept.body, kept.status, {**kept.headers, REPLAYED: "true"}
            answer = make(session)
            idempotency.keep(session, caller, key, answer)
    return answer.body, answer.status, answer.headers
