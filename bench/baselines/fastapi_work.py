"""Baseline 4: FastAPI doing the service's work for the benchmark's requests.

Written as a FastAPI developer would, to compare stacks rather than layers:
- bearer tokens (`HTTPBearer`) looked up in the same `tokens` table, by the same query
  (`models.token.authenticate`); failed credentials counted per address, and an address
  over `5/minute` refused before its token is checked, as the service does;
- Pydantic validation of the query and body, with the contract's bounds and patterns;
- one rate limit per operation and caller (per address for sign-up) counted with
  `limits`, with `X-RateLimit-*` headers, scaled by `RATELIMIT_SCALE`;
- Starlette's `CORSMiddleware` for `CORS_ORIGINS`;
- the service's error envelope, for validation, HTTP and domain errors;
- the same model layer (`models/`) for the queries, so bodies are identical.

Endpoints that touch the database are plain `def` (FastAPI runs them in its thread
pool, as its documentation advises for a synchronous driver); the rate limit, counted in
memory, is an `async def` dependency that stays in the event loop. Responses are built
directly (no `jsonable_encoder` pass over a dict). Served by gunicorn with the stock
uvicorn worker (uvloop), as FastAPI's users run it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from pydantic import BaseModel, ConfigDict, StringConstraints

from models import token as tokens
from models import user as users
from models.counting import CountMode
from models.db import Database
from models.errors import DomainError, InvalidToken
from models.listing import PageRequest
from models.passwords import Passwords
from models.viewer import Viewer
from service.app_secret import AppSecret
from service.http.conditional import entity_tag
from service.http.errors import ApiError, ErrorCode, body_of, from_domain, from_status
from service.http.pagination import ListRequest, paginated

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///data/bench.db")
ORIGINS = [o for o in os.environ.get("CORS_ORIGINS", "").split(",") if o]
# The service's defaults: totals counted up to 1,000 matches; cursors and tags signed with
# keys of APP_SECRET, else of the secret kept in the database (service/app_secret.py).
COUNT_EXACT_LIMIT = 1000
CONFIGURED_SECRET = os.environ.get("APP_SECRET") or os.environ.get("CURSOR_SECRET")
SCALE = int(os.environ.get("RATELIMIT_SCALE", "1"))
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

database = Database(DATABASE_URL)
secret = AppSecret(database, CONFIGURED_SECRET.encode() if CONFIGURED_SECRET else None)
passwords = Passwords(
    int(os.environ.get("PASSWORD_HASH_TIME_COST", "3")),
    int(os.environ.get("PASSWORD_HASH_MEMORY_KIB", "65536")),
)
limiter = FixedWindowRateLimiter(MemoryStorage())


def limit(declared: str) -> RateLimitItem:
    item = parse(declared)
    return parse(f"{item.amount * SCALE}/{item.multiples} {item.GRANULARITY.name}")


LIMITS = {
    "list_users": limit("120/minute"),
    "get_user": limit("120/minute"),
    "create_user": limit("10/minute"),
}
BY_ADDRESS = {"create_user"}
AUTH_FAILURES = limit("5/minute")

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
app.add_middleware(
    CORSMiddleware,
    allow_origins=ORIGINS,
    allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
    expose_headers=[
        "Link",
        "Location",
        "X-Request-ID",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
    ],
)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON with a final newline, byte for byte what the service sends."""
    text = json.dumps(body, separators=(",", ":")) + "\n"
    return Response(text, status, headers, media_type="application/json")


def error_response(error: ApiError) -> Response:
    return Response(body_of(error), error.status, error.headers, media_type="application/json")


@app.exception_handler(ApiError)
async def on_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


@app.exception_handler(DomainError)
async def on_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(from_domain(exc))


@app.exception_handler(HTTPException)
async def on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(from_status(exc.status_code, str(exc.detail), exc.headers))


@app.exception_handler(RequestValidationError)
async def on_invalid(_request: Request, exc: Exception) -> Response:
    """Every broken field at once, as `{field, in, message}` details."""
    assert isinstance(exc, RequestValidationError)
    details = []
    for error in exc.errors():
        if error["type"] == "json_invalid":
            return error_response(
                ApiError(ErrorCode.INVALID_JSON, f"Request body is not valid JSON: {error['msg']}")
            )
        where, *path = error["loc"]
        details.append(
            {"field": ".".join(map(str, path)) or "(body)", "in": where, "message": error["msg"]}
        )
    return error_response(
        ApiError(ErrorCode.VALIDATION_ERROR, "Request validation failed", details=details)
    )


# --- who is calling -------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    id: uuid.UUID
    role: str

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.id, self.role)


bearer = HTTPBearer(auto_error=False)


def address(request: Request) -> str:
    return request.client.host if request.client else "-"


def optional_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller | None:
    """The token's owner (None without a token); 401 for a bad token, 429 for an address
    that sent too many bad ones."""
    if credentials is None:
        return None
    key = address(request)
    if not limiter.test(AUTH_FAILURES, "auth-failures", key):
        reset = int(limiter.get_window_stats(AUTH_FAILURES, "auth-failures", key)[0])
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"Too many failed credentials from this address; limit {AUTH_FAILURES}",
            headers={"Retry-After": str(max(reset - int(time.time()), 1))},
        )
    try:
        with database.read() as connection:
            found = tokens.authenticate(connection, credentials.credentials)
    except InvalidToken as refused:
        limiter.hit(AUTH_FAILURES, "auth-failures", key)
        raise from_domain(refused) from None
    return Caller(found.user_id, found.role)


async def required_caller(
    caller: Annotated[Caller | None, Depends(optional_caller)],
) -> Caller:
    if caller is None:
        raise ApiError(ErrorCode.UNAUTHORIZED, "A bearer token is required")
    return caller


OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
RequiredCaller = Annotated[Caller, Depends(required_caller)]


class RateLimit:
    """A dependency counting `operation`'s bucket for this caller (for this address on
    sign-up): the `X-RateLimit-*` headers, or 429."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.item = LIMITS[operation]

    async def __call__(self, request: Request, caller: OptionalCaller) -> dict[str, str]:
        operation, item = self.operation, self.item
        key = address(request) if caller is None or operation in BY_ADDRESS else str(caller.id)
        allowed = limiter.hit(item, "api", operation, key)
        reset, remaining = limiter.get_window_stats(item, "api", operation, key)
        headers = {
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset)),
        }
        if not allowed:
            raise ApiError(
                ErrorCode.RATE_LIMITED,
                f"Rate limit of {item} exceeded",
                headers={**headers, "Retry-After": str(max(int(reset - time.time()), 1))},
            )
        return headers


# --- users ------------------------------------------------------------------------------

UserName = Annotated[
    str,
    StringConstraints(
        min_length=2,
        max_length=100,
        pattern=r"^ *[^ \x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*[^ \x00-\x1f\x7f-\x9f] *$",
    ),
]
Email = Annotated[
    str,
    StringConstraints(
        max_length=254, pattern=r"^[^@ \x00-\x1f\x7f-\x9f]+@[^@ \x00-\x1f\x7f-\x9f]+$"
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128, pattern=r"^[^\x00]*$")]
Role = Literal["user", "admin", "moderator"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: UserName
    email: Email
    password: Password
    role: Role = "user"


ListLimit = Annotated[dict[str, str], Depends(RateLimit("list_users"))]
GetLimit = Annotated[dict[str, str], Depends(RateLimit("get_user"))]
CreateLimit = Annotated[dict[str, str], Depends(RateLimit("create_user"))]


@app.get("/api/users")
def list_users(
    caller: RequiredCaller,
    limit_headers: ListLimit,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    search: Annotated[
        str | None, Query(min_length=3, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    ] = None,
    sort_by: Annotated[Literal["name", "email", "createdAt"], Query(alias="sortBy")] = "createdAt",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> Response:
    if sort_by == "email" and caller.role != "admin":
        raise ApiError(ErrorCode.FORBIDDEN, "Only admins may sort users by email")
    query = {"search": search, "sortBy": sort_by, "order": order}
    rows = PageRequest(
        sort_by=sort_by,
        order=order,
        limit=limit,
        offset=(page - 1) * limit,
        search=search,
        counting=CountMode.ESTIMATED,
        exact_limit=COUNT_EXACT_LIMIT,
    )
    with database.read() as connection:
        found = users.list_page(connection, caller.viewer, rows)
    page_request = ListRequest("/api/users", query, page, rows)
    body, status, headers = paginated(found, page_request, secret.keys().cursor)
    return json_response(body, status, {**headers, **limit_headers})


@app.get("/api/users/{user_id}")
def get_user(
    caller: RequiredCaller,
    limit_headers: GetLimit,
    user_id: Annotated[str, Path(pattern=UUID_PATTERN)],
) -> Response:
    with database.read() as connection:
        found, version = users.document_by_id(connection, uuid.UUID(user_id), caller.viewer)
    headers = {**limit_headers, "ETag": entity_tag(version, found, secret.keys().etag)}
    return json_response({"data": found}, 200, headers)


@app.post("/api/users", status_code=201)
def create_user(caller: OptionalCaller, limit_headers: CreateLimit, body: UserCreate) -> Response:
    fields = body.model_dump(exclude_unset=True)
    if "role" in fields and (caller is None or caller.role != "admin"):
        raise ApiError(ErrorCode.FORBIDDEN, "Only admins may set role")
    with database.session() as session:
        created = users.create(session, fields, passwords).document()
    headers = {"Location": f"/api/users/{created['id']}", **limit_headers}
    return json_response({"data": created}, 201, headers)
