"""Authentication: Connexion's bearer scheme calls `token_info`; handlers and the
authorization layer read the caller back with `current_caller`.

No handler parses `Authorization`: the spec's `bearerAuth` scheme names `token_info`
(`x-bearerInfoFunc`), and Connexion calls it before validation for every operation
that declares the scheme.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connexion import context
from sqlmodel import Session
from starlette.requests import Request

from models import token as tokens
from models.db import read_scope
from models.timestamps import to_iso
from models.user import User
from service import passwords
from service.errors import ApiError, ErrorCode
from service.settings import Settings

# (peer address, X-Forwarded-For) -> records a failed credential; may raise a 429 first.
CredentialGuard = Callable[[str | None, str | None], Callable[[], None]]


def _no_guard(_peer: str | None, _forwarded: str | None) -> Callable[[], None]:
    return lambda: None


_token_ttl_seconds = Settings().token_ttl_seconds
_guard: CredentialGuard = _no_guard
_lookup_in_loop = True


def configure(settings: Settings, guard: CredentialGuard = _no_guard) -> None:
    """Called by `create_app`: token lifetime, password hashing cost, failure counting,
    where tokens are looked up."""
    global _token_ttl_seconds, _guard, _lookup_in_loop
    _token_ttl_seconds = settings.token_ttl_seconds
    _guard = guard
    _lookup_in_loop = settings.inline_reads
    passwords.configure(settings.password_hash_time_cost, settings.password_hash_memory_kib)


def guard_credentials(request: Request) -> Callable[[], None]:
    """429 if this client failed too often; else what to call when its credentials fail."""
    peer = request.client.host if request.client else None
    return _guard(peer, request.headers.get("x-forwarded-for"))


@dataclass(frozen=True)
class Caller:
    id: uuid.UUID
    role: str
    token_id: uuid.UUID


def _authenticate(token: str, request: Request) -> dict[str, Any]:
    record_failure = guard_credentials(request)
    try:
        with read_scope() as connection:
            bearer = tokens.authenticate(connection, token)
    except ApiError:
        record_failure()
        raise
    return {"sub": str(bearer.user_id), "role": bearer.role, "token_id": str(bearer.token_id)}


async def token_info(token: str, request: Request) -> dict[str, Any]:
    """Connexion's bearer hook: the caller's claims, or a 401 `ApiError` saying why not.

    A refused token counts as a failed credential of the client (see service.limits).
    With `INLINE_READS` (the default) the lookup, one indexed query, runs in the event
    loop like every read: the hop to a thread and back cost more than the query
    (bench/README.md). Without it, it runs in a thread, for databases far enough away
    that waiting for them in the loop would stall the worker.
    """
    if _lookup_in_loop:
        return _authenticate(token, request)
    return await asyncio.to_thread(_authenticate, token, request)


# Connexion inspects the hook's signature twice per request (which keywords it takes);
# a signature stored on the function is returned as it is instead of being rebuilt.
token_info.__signature__ = inspect.signature(token_info)  # type: ignore[attr-defined]


Viewer = tuple[uuid.UUID | None, str | None]


def viewer(caller: Caller | None) -> Viewer:
    """(id, role) of whoever is looking, for visibility rules; (None, None) if anonymous."""
    return (caller.id, caller.role) if caller else (None, None)


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


WRONG_CREDENTIALS = "Email or password is wrong"


def log_in(
    session: Session, user: User | None, password: str, record_failure: Callable[[], None]
) -> dict[str, str]:
    """A new token for the right password; the same 401 for a wrong email or password.

    With no user, a dummy hash is verified, so both failures take about the same time.
    """
    if not passwords.verify_password(user.password_hash if user else None, password):
        record_failure()
        raise ApiError(ErrorCode.UNAUTHORIZED, WRONG_CREDENTIALS)
    assert user is not None and user.password_hash is not None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    plain, token = tokens.issue(session, user, _token_ttl_seconds)
    return {"token": plain, "expiresAt": to_iso(token.expires_at)}
