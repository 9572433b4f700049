"""How a request crosses from the event loop to Flask: in the loop's thread, or in a pool.

a2wsgi, which Connexion uses, runs Flask in a thread pool and passes every response
message back to the event loop through a future; on a CPU-bound worker those hand-offs
cost more than the handler and its query (bench/README.md: +40 % on reads without them).
Here a request goes to the pool once and comes back once (`PooledWSGIMiddleware`, the
app's `WSGI_THREADS`, shared with token lookups), or does not leave the loop at all.

Where each request runs:
- Operations that touch nothing that can wait (no `503` declared in the contract: the
  liveness probe) run in the loop's thread (`InlineWSGIMiddleware`), always.
- Reads (GET, HEAD, OPTIONS) run where the app's `ReadPlacement` says
  (service/resilience/placement.py): in the loop while the database answers them at once,
  bounded and sampled there, in the threads otherwise. A read that gives up in the loop
  (`InlineAttempt.moved`) is run again from the start in the threads, its first answer
  discarded: nothing of it was sent. An operation that calls other services (the
  dashboard) never runs in the loop.
- Everything else runs in the app's threads (`WSGI_THREADS`) with one hand-off each way
  (`PooledWSGIMiddleware`).
`WSGI_THREADS=0` runs every request in the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ
from connexion import FlaskApp
from starlette.types import ASGIApp, Receive, Scope, Send

from service.access.routing_guard import refuse_unrouted
from service.contract import Contract
from service.resilience.placement import ReadPlacement

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class FlaskBridge:
    """Connexion's last layer: routed requests to Flask, reads where `placement` says,
    writes in a pool of `threads` (0: every request in the loop).

    It replaces the a2wsgi bridge that Connexion builds (`FlaskApp._middleware_app
    .asgi_app`), keeping its `app` attribute: the WSGI app, which
    `FlaskApp.add_wsgi_middleware` wraps.
    """

    def __init__(
        self,
        wsgi: Any,
        *,
        threads: int,
        placement: ReadPlacement,
        always_inline: frozenset[str] = frozenset(),
        never_inline: frozenset[str] = frozenset(),
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.threads = threads
        self.executor = executor or ThreadPoolExecutor(max(threads, 1), thread_name_prefix="WSGI")
        self.placement = placement
        # Operations (as Connexion's routing names them) that never wait on anything.
        self.always_inline = always_inline
        self.never_inline = never_inline
        self.app = wsgi

    @property
    def app(self) -> Any:
        return self._wsgi

    @app.setter
    def app(self, wsgi: Any) -> None:
        self._wsgi = wsgi
        self._inline = InlineWSGIMiddleware(wsgi)
        self._pooled: ASGIApp = (
            PooledWSGIMiddleware(wsgi, self.executor) if self.threads else self._inline
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refuse_unrouted(scope)
        if self.threads == 0:
            await self._inline(scope, receive, send)
            return
        operation = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
        if operation in self.always_inline:
            await self._inline(scope, receive, send)
        elif (
            scope.get("method") in SAFE_METHODS
            and operation not in self.never_inline
            and self.placement.inline()
        ):
            await self._read_in_the_loop(scope, receive, send)
        else:
            await self._pooled(scope, receive, send)

    async def _read_in_the_loop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A read in the loop, bounded; run again in the threads if it gave up there."""
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        with self.placement.attempt() as attempt:
            try:
                answer = run_wsgi(self._wsgi, scope, body)
            except Exception:  # Flask lets errors out to Connexion's layer, `ReadMoved` too
                if not attempt.moved:
                    raise
        if attempt.moved:
            answer = await run_pooled(self._wsgi, self.executor, scope, body)
        await send_answer(send, answer)


def waits_on_nothing(contract: Contract) -> frozenset[str]:
    """Operations that declare no 503: nothing they do can wait on a dependency."""
    return frozenset(
        contract.routed_name(operation_id)
        for operation_id, operation in contract.operations.items()
        if "503" not in operation["responses"]
    )


def waits_on_the_network(contract: Contract) -> frozenset[str]:
    """Operations that declare 502 or 504: they call other services (the dashboard), so
    they never run in the loop, even where reads do."""
    return frozenset(
        contract.routed_name(operation_id)
        for operation_id, operation in contract.operations.items()
        if {"502", "504"} & set(operation["responses"])
    )


def bridge_to_flask(
    app: FlaskApp,
    contract: Contract,
    *,
    threads: int,
    executor: ThreadPoolExecutor,
    placement: ReadPlacement,
) -> None:
    """Put a `FlaskBridge` where Connexion's a2wsgi bridge was (10 threads, no option)."""
    side = app._middleware_app  # noqa: SLF001 (the patch)
    side.asgi_app = FlaskBridge(
        side.app.wsgi_app,
        threads=threads,
        placement=placement,
        always_inline=waits_on_nothing(contract),
        never_inline=waits_on_the_network(contract),
        executor=executor,
    )


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


async def send_answer(send: Send, answer: Answer) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class InlineWSGIMiddleware:
    """Flask run to completion in the event loop's thread: the body is read whole (the
    body limit layer has already bounded it), then the response is sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is not None:
            await send_answer(send, run_wsgi(self.app, scope, body))


class PooledWSGIMiddleware:
    """Flask run to completion in a thread of the pool: one hand-off there and one back
    per request, where a2wsgi hands every response message back through a future of its
    own, each a wake-up of the loop and of the thread."""

    def __init__(self, app: Any, executor: ThreadPoolExecutor) -> None:
        self.app = app
        self.executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is not None:
            await send_answer(send, await run_pooled(self.app, self.executor, scope, body))


async def run_pooled(app: Any, executor: ThreadPoolExecutor, scope: Scope, body: bytes) -> Answer:
    """`run_wsgi` in a thread of `executor`, in a copy of the request's context."""
    context = contextvars.copy_context()  # the request's runtime, id and budget
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, context.run, run_wsgi, app, scope, body)
