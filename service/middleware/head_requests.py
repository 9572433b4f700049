"""HEAD is answered as the GET it stands for, without the body (RFC 9110 §9.3.2).

Connexion routes a HEAD request to the GET operation, Werkzeug drops the body, and the
response validator then finds no body where the contract promises one (a 500). Served
here as a GET whose body is not sent, every layer sees the request it was written for
and the headers (Content-Length included) are exactly the GET's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
