"""Headers every response carries: no MIME sniffing, and no caching of what a token saw
or of what a write answered (a new token, a user's email: RFC 6749 §5.1), unless the
operation says otherwise (the dashboard: `private, max-age=0`, kept by the browser alone
and revalidated with its ETag).

(The `Server` header is the HTTP server's: `make run`/`make serve` turn it off.)
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CACHEABLE = frozenset({"GET", "HEAD"})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = "authorization" in Headers(scope=scope) or scope["method"] not in CACHEABLE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if private and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
