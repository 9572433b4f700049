"""How a request crosses from the event loop to Flask: in the loop's thread, or in a pool.

a2wsgi, which Connexion uses, runs Flask in a thread pool and passes every response
message back to the event loop through a future; on a CPU-bound worker those hand-offs
cost more than the handler and its query (+40 % on reads without them,
docs/performance.md). Here a request goes to the pool once and comes back once (the
app's `WSGI_THREADS`), or does not leave the loop at all, as the app's `Placement`
(service/resilience/placement.py) says for its operation's plan. A request Connexion
routed to no operation has no plan and never enters Flask: 404.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ
from connexion import FlaskApp
from starlette.types import Receive, Scope, Send

from service.edge.scope import current
from service.http.errors import ApiError, ErrorCode
from service.resilience.placement import Placement


class FlaskBridge:
    """Connexion's last layer: routed requests to Flask, where `placement` says.

    It replaces the a2wsgi bridge that Connexion builds (`FlaskApp._middleware_app
    .asgi_app`), keeping its `app` attribute: the WSGI app, which
    `FlaskApp.add_wsgi_middleware` wraps.
    """

    def __init__(self, wsgi: Any, *, placement: Placement, executor: ThreadPoolExecutor) -> None:
        self.placement = placement
        self.executor = executor
        self.app = wsgi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        plan = current().plan
        if plan is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"No route matches {scope['path'][:200]}")
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        if self.placement.in_loop(plan):
            answer = run_wsgi(self.app, scope, body)
        else:
            context = contextvars.copy_context()  # the request's scope
            answer = await asyncio.get_running_loop().run_in_executor(
                self.executor, context.run, run_wsgi, self.app, scope, body
            )
        status, headers, content = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content, "more_body": False})


def bridge_to_flask(app: FlaskApp, *, placement: Placement, executor: ThreadPoolExecutor) -> None:
    """Put a `FlaskBridge` where Connexion's a2wsgi bridge was (10 threads, no option)."""
    side = app._middleware_app  # noqa: SLF001 (the patch)
    side.asgi_app = FlaskBridge(side.app.wsgi_app, placement=placement, executor=executor)


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (the body limit layer has bounded it); None if the client
    went away first."""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return bytes(body)


def run_wsgi(app: Any, scope: Scope, body: bytes) -> Answer:
    """Flask run to completion on `body`: status, headers and the whole response body."""
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(
        status: str,
        headers: list[tuple[str, str]],
        exc_info: Any = None,  # noqa: ARG001 (WSGI's signature; errors propagate)
    ) -> Any:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
        ]
        return chunks.append

    result = app(build_environ(scope, io.BytesIO(body)), start_response)  # type: ignore[arg-type]
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started["status"], started["headers"], b"".join(chunks)
