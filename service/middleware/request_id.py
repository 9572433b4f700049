"""X-Request-ID: echo a sane incoming id or make one, and put it on every response.

A sane id is one line of 1 to 128 letters, digits or `. _ : -`. Any other (a space, a
longer one, two lines) is replaced by a fresh id, never refused: the request is served,
and every layer inside reads the id answered, for the scope's header is rewritten to it
before Connexion validates the contract's `X-Request-ID` parameter or Flask sees it.

The id lives in a context variable so log records can carry it (see service.log_format);
a2wsgi copies the context into the thread that runs Flask.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from flask import Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: ContextVar[str] = ContextVar("request_id", default="-")


NAME = HEADER.lower().encode("latin-1")


def _incoming(lines: list[bytes]) -> str | None:
    """The client's id if it sent one sane id on one line."""
    if len(lines) != 1:
        return None
    text = lines[0].decode("latin-1")
    return text if _SANE.fullmatch(text) else None


def with_request_id(scope: Scope) -> tuple[str, Scope]:
    """The request's id, and a scope whose `X-Request-ID` is that id on one line."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    lines = [value for name, value in headers if name.lower() == NAME]
    request_id = _incoming(lines)
    if request_id is not None:
        return request_id, scope
    request_id = uuid.uuid4().hex
    if not lines:
        return request_id, scope
    kept = [(name, value) for name, value in headers if name.lower() != NAME]
    return request_id, {**scope, "headers": [*kept, (NAME, request_id.encode("latin-1"))]}


class RequestIdMiddleware:
    """Outermost layer but one, so error responses carry the id too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, scope = with_request_id(scope)
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


def stamp_flask_response(response: Response) -> Response:
    """Flask `after_request` hook: set the id before Connexion validates the response.

    Response validation runs inside the middleware above and checks that the header the
    contract requires is there, so the handler's own response must carry it already.
    """
    response.headers[HEADER] = current_request_id.get()
    return response
