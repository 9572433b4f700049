"""Bodies over `MAX_BODY_BYTES` get 413 before they are read whole.

A declared `Content-Length` over the limit is refused at once. Otherwise the body is
read up to the limit - so a lying `Content-Length` or a chunked body cannot slip more
through - and handed on with an exact `Content-Length`, which Connexion's validators
need (they take a request without one for a request without a body).

This holds for every method: a GET, HEAD or OPTIONS request says it has a body (a
`Content-Length` or `Transfer-Encoding`) is bounded the same way, since the bridge to
Flask reads whatever body comes; one that says nothing passes untouched (the hot path).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.errors import ApiError, ErrorCode, render_asgi

METHODS_WITH_BODIES = ("POST", "PUT", "PATCH", "DELETE")


def too_large(limit: int) -> ApiError:
    return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"The request body is over {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if scope["method"] not in METHODS_WITH_BODIES and (
            declared in (None, "0") and "transfer-encoding" not in headers
        ):
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await render_asgi(too_large(self.max_bytes))(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await render_asgi(too_large(self.max_bytes))(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        scope = dict(scope)
        scope["headers"] = [
            (name, value)
            for name, value in scope["headers"]
            if name not in (b"content-length", b"transfer-encoding")
        ]
        MutableHeaders(scope=scope)["content-length"] = str(len(body))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
