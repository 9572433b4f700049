"""X-Request-ID: echo a sane incoming id or make one, and put it on every response.

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


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE.fullmatch(text) else None
    return None


class RequestIdMiddleware:
    """Outermost layer but one, so error responses carry the id too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or uuid.uuid4().hex
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
