"""Run Flask in the event loop's own thread: no hand-off per request.

a2wsgi, which Connexion uses, runs Flask in a thread pool and passes every response
message back to the event loop through a future; on a CPU-bound worker those hand-offs
are a large share of each request (bench/README.md). With `WSGI_THREADS=0` this adapter
is used instead: the body is read whole (the body limit layer has already bounded it),
Flask runs to completion, and the response is sent.

The price: while Flask runs - database queries included - the worker serves nothing
else. That suits a fast local database; with a distant one, keep a thread pool.
"""

from __future__ import annotations

import io
from typing import Any

from a2wsgi.wsgi import build_environ
from starlette.types import Receive, Scope, Send


class InlineWSGIMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        started: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
            return lambda chunk: chunks.append(chunk)

        chunks: list[bytes] = []
        result = self.app(build_environ(scope, io.BytesIO(bytes(body))), start_response)  # type: ignore[arg-type]
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        await send(
            {
                "type": "http.response.start",
                "status": started["status"],
                "headers": started["headers"],
            }
        )
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})
