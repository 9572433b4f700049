"""Every request runs in a new, empty `contextvars` context.

Context variables hold request-scoped state: Connexion's routed operation and the
caller's `token_info`, the request id. uvicorn creates each request's task from the
context that is current when the connection's next bytes are read, and after a
response that can be the previous request's own context (the read was resumed from
inside it). The next request on that keep-alive connection then starts with the
previous one's operation and caller already set; a request Connexion did not route
never overwrites them. Running each request in a task with a fresh context makes that
impossible whatever the server does: nothing set during one request is visible to
another.
"""

from __future__ import annotations

import asyncio
import contextvars

from starlette.types import ASGIApp, Receive, Scope, Send


class FreshContextMiddleware:
    """The outermost layer: the rest of the stack runs in a task with an empty context."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        # Cancelling this task (a client gone) cancels the one it awaits.
        await loop.create_task(self.app(scope, receive, send), context=contextvars.Context())
