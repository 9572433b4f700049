"""Every request runs in a new context holding only its app's runtime.

Context variables hold request-scoped state: Connexion's routed operation and the
caller's `token_info`, the request id. uvicorn creates each request's task from the
context that is current when the connection's next bytes are read, and after a
response that can be the previous request's own context (the read was resumed from
inside it). The next request on that keep-alive connection then starts with the
previous one's operation and caller already set; a request Connexion did not route
never overwrites them. Running each request in a task with a fresh context makes that
impossible whatever the server does: nothing set during one request is visible to
another. The fresh context holds two things: the app's runtime (service/runtime.py) and
the request's own budget for the database (service/resilience/deadline.py).
"""

from __future__ import annotations

import asyncio
import contextvars

from starlette.types import ASGIApp, Receive, Scope, Send

from service.resilience.deadline import begin_request
from service.runtime import Runtime, bind


class RequestContextMiddleware:
    """The outermost layer: the rest of the stack runs in a task with a fresh context."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Layers that copy the scope share this one dict, so what Connexion's routing
        # writes into it (the operationId) is seen by the error handlers outside it too.
        scope.setdefault("extensions", {})
        context = contextvars.Context()
        context.run(bind, self.runtime)
        context.run(begin_request)  # its own deadline for the database

        async def rest() -> None:
            await self.app(scope, receive, send)

        # Cancelling this task (a client gone) cancels the one it awaits. Lifespan
        # events run here too, so start-up code also sees its app's runtime.
        await asyncio.get_running_loop().create_task(rest(), context=context)
