"""Credentials: the bearer token of a request, checked as its plan says, and a login.

The plan says whether an operation needs a token, takes one if sent, or ignores it. A
token that is sent is always checked: one that is not accepted is a 401, never an
anonymous call. A token that cannot be checked (the database does not answer) is the
database's 503, never a 401: a client told 401 throws its token away. Failed
credentials count against `x-rate-limit-auth-failures` per client address; a valid
token is never throttled (service/access/rate_limits.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from models import token as tokens
from models import user as users
from models.errors import InvalidToken, WrongCredentials
from models.timestamps import to_iso
from service.access.caller import Caller
from service.edge.scope import RequestScope
from service.http.errors import ApiError, ErrorCode, from_domain
from service.plan import Plan

WRONG_CREDENTIALS = "Email or password is wrong"


def unauthorized(message: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHORIZED, message)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None if none was sent."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise unauthorized("A bearer token is required: Bearer <token>")
    return token


def authenticate(plan: Plan, header: str | None, request: RequestScope) -> Caller | None:
    """The caller a request's `Authorization` header names, as its plan asks; raises 401
    (bad or missing token), 429 (a bad token from an address over its failures), or the
    database's 503."""
    if plan.authentication == "none":
        return None
    token = bearer_token(header)
    if token is None:
        if plan.authentication == "required":
            raise unauthorized("A bearer token is required: Bearer <token>")
        return None
    runtime = request.runtime
    try:
        with runtime.database.read() as connection:
            bearer = tokens.authenticate(connection, token)
    except InvalidToken as refused:
        runtime.rate_limits.count_failed_token(request.client)
        raise from_domain(refused) from None
    return Caller(id=bearer.user_id, role=bearer.role, token_id=bearer.token_id)


def log_in(request: RequestScope, session: Session, email: str, password: str) -> dict[str, str]:
    """A new token for the right password; the same 401 for a wrong email or password,
    and the 429 of an address over its failed logins to that email, before checking.

    With no user, a dummy hash is verified, so both failures take about the same time.
    """
    runtime = request.runtime
    passwords = runtime.passwords
    record_failure: Callable[[], None] = runtime.rate_limits.guard_login(request.client, email)
    user = users.find_by_email(session, email)
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
