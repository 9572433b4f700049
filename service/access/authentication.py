"""Authentication: Connexion's bearer scheme calls `token_info`; handlers and the
authorization layer read the caller back with `current_caller`.

No handler parses `Authorization`: the spec's `bearerAuth` scheme names `token_info`
(`x-bearerInfoFunc`), and Connexion calls it before validation for every operation
that declares the scheme.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from connexion import context
from sqlmodel import Session
from starlette.requests import Request

from models import token as tokens
from models import user as users
from models.errors import InvalidToken, WrongCredentials
from models.timestamps import to_iso
from models.user import User
from models.viewer import ANONYMOUS, Viewer
from service.resilience.placement import ReadMoved
from service.runtime import Runtime, current


def guard_login(request: Request, email: str) -> Callable[[], None]:
    """429 if logins to `email` from this client failed too often; else what to call when
    its password is wrong (see rate_limits.AuthFailures)."""
    return current().rate_limits.guard_login(request.scope, email)


@dataclass(frozen=True)
class Caller:
    id: uuid.UUID
    role: str
    token_id: uuid.UUID

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.id, self.role)


def _authenticate(runtime: Runtime, token: str, request: Request) -> dict[str, Any]:
    try:
        with runtime.database.read() as connection:
            bearer = tokens.authenticate(connection, token)
    except InvalidToken:
        # Counted, and a 429 instead once the client failed too often; a valid token is
        # never refused for the failures of others at its address.
        runtime.rate_limits.count_failed_token(request.scope)
        raise
    return {"sub": str(bearer.user_id), "role": bearer.role, "token_id": str(bearer.token_id)}


async def token_info(token: str, request: Request) -> dict[str, Any]:
    """Connexion's bearer hook: the caller's claims, or the exception saying why not.

    `InvalidToken` (a 401) is the only refusal of the token itself; any other exception
    means it could not be checked (`Unavailable`: the database did not answer, a 503 with
    `Retry-After`) and is never a 401. A refused token counts as a failed credential of
    the client, a 429 once it failed too often (see rate_limits.AuthFailures).

    It runs where reads run (service/resilience/placement.py): in the event loop while
    the database answers at once (one indexed query; the hop to a thread and back may
    cost more), else in the app's threads, where Flask runs, so that a database or Redis
    that goes silent does not stall the loop. A lookup that gives up in the loop
    (`ReadMoved`) is done again in the threads.
    """
    runtime = current()
    try:
        if runtime.placement.inline():
            try:
                with runtime.placement.attempt():
                    return _authenticate(runtime, token, request)
            except ReadMoved:
                pass
        # In the app's own threads, those Flask runs in: one pool, one bound on concurrency.
        context = contextvars.copy_context()  # the request's runtime, id and budget
        return await asyncio.get_running_loop().run_in_executor(
            runtime.threads, context.run, _authenticate, runtime, token, request
        )
    except Exception as failed:
        # Connexion swallows whatever this hook raises on operations where anonymous
        # callers are welcome too, and serves them as anonymous; the authorization layer
        # raises it again then (see `unaccepted_token`), so that every operation answers
        # a token the same way: 401 refused, 429 over the limit, 503 not checked.
        _unaccepted.set(failed)
        raise


# Connexion inspects the hook's signature twice per request (which keywords it takes);
# a signature stored on the function is returned as it is instead of being rebuilt.
token_info.__signature__ = inspect.signature(token_info)  # type: ignore[attr-defined]


# Why this request's token was not accepted, if it was not: one request's, in its own
# context (service/middleware/request_context.py).
_unaccepted: ContextVar[Exception | None] = ContextVar("unaccepted_token", default=None)


def unaccepted_token() -> Exception | None:
    """What the check of this request's bearer token raised, or None if it raised nothing:
    `InvalidToken` (401), the 429 of a client over its failed-credentials limit, or what
    kept the token from being checked (`Unavailable`: 503)."""
    return _unaccepted.get()


def current_caller() -> Caller | None:
    """The authenticated caller of this request, or None for an anonymous one."""
    try:
        info = context.context.get("token_info") or {}
    except RuntimeError:
        return None
    if "sub" not in info:
        return None
    return Caller(
        id=uuid.UUID(info["sub"]), role=info["role"], token_id=uuid.UUID(info["token_id"])
    )


def current_viewer() -> Viewer:
    """Who is looking, for the models' visibility rules."""
    caller = current_caller()
    return caller.viewer if caller else ANONYMOUS


WRONG_CREDENTIALS = "Email or password is wrong"


def log_in(
    session: Session, user: User | None, password: str, record_failure: Callable[[], None]
) -> dict[str, str]:
    """A new token for the right password; the same 401 for a wrong email or password.

    With no user, a dummy hash is verified, so both failures take about the same time.
    """
    runtime = current()
    passwords = runtime.passwords
    if not passwords.verify(user.password_hash if user else None, password):
        record_failure()
        raise WrongCredentials(WRONG_CREDENTIALS)
    assert user is not None and user.password_hash is not None
    verified = user.password_hash
    plain, token = tokens.issue(session, user, runtime.settings.token_ttl_seconds)
    if not users.password_unchanged(session, user.id, verified):
        raise WrongCredentials(WRONG_CREDENTIALS)  # changed while it was being verified
    if passwords.needs_rehash(verified):
        user.password_hash = passwords.hash(password)
    return {"token": plain, "expiresAt": to_iso(token.expires_at)}
