"""The outermost layer: one scope per request, and its bookkeeping, in one place.

On the way in it makes the request's scope (service/edge/scope.py): its app's runtime,
its request id (the client's if usable, else a fresh one) and the client's address; it
serves HEAD as the GET it stands for (RFC 9110 §9.3.2: every layer sees the request it
was written for, and the headers are exactly the GET's), and runs the rest of the request
in a task with a fresh context holding only that scope.

uvicorn creates each request's task from the context current when the connection's
next bytes are read, which after a response can be the previous request's own: a fresh
context per request makes "nothing of one request survives into the next" hold whatever
the server does.

On the way out it stamps every answer (preflights, 413s, 404s included) with
`X-Request-ID`, `X-Content-Type-Options: nosniff` and, for what a token saw or a write
answered, `Cache-Control: no-store` unless the operation set its own (RFC 6749 §5.1).
Just before the last byte leaves, the request is counted and its access line written,
so a client that has its answer finds it counted; one that ends without an answer (the
client went away) counts as 499, as nginx says; one whose layers raised, as 500.

With tracing on (service/observability/tracing.py), the request's server span starts
here, continuing the trace of a valid `traceparent` (any other starts a new one: a
tracing header is never refused); the rest of the request runs with it as the current
span, and it ends with the access line, named `<operationId> <route template>` and
holding the status, the caller's role and the rate-limit and breaker outcomes. Its trace
id goes into the scope (for log records) and the access line. Off, none of this runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import time

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.edge.client_address import client_address
from service.edge.request_id import request_id_of
from service.edge.scope import RequestScope, enter
from service.observability.access_log import AccessLog
from service.observability.metrics import UNROUTED, Metrics
from service.plan import Deprecation
from service.runtime import Runtime

CLIENT_GONE = 499
CACHEABLE = frozenset({b"GET", b"HEAD"})
KNOWN_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})
OTHER_METHOD = "OTHER"
NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")


def deprecated(raw: list[tuple[bytes, bytes]], used: list[Deprecation]) -> None:
    """`Deprecation` and `Sunset` of the earliest of what the request used, and a `Link`
    with `rel="deprecation"` for each, joined to the `Link` the answer has."""
    earliest = min(used, key=lambda d: (d.sunset, d.since))
    since = min(used, key=lambda d: d.since)
    links = ", ".join(dict.fromkeys(d.headers[2][1].decode("latin-1") for d in used))
    raw[:] = [(n, v) for n, v in raw if n.lower() not in (b"deprecation", b"sunset")]
    raw.append(since.headers[0])
    raw.append(earliest.headers[1])
    for index, (name, value) in enumerate(raw):
        if name.lower() == b"link":
            raw[index] = (name, value + b", " + links.encode("latin-1"))
            return
    raw.append((b"link", links.encode("latin-1")))


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.metrics: Metrics = runtime.metrics
        self.access_log: AccessLog = runtime.access_log
        self.trusted_hops = runtime.settings.trusted_proxy_hops
        self.tracer = runtime.tracing.tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # Lifespan events: start-up code sees its app's runtime too.
            await self._in_fresh_context(RequestScope(self.runtime, "-", "-"), scope, receive, send)
            return
        # Layers that copy the ASGI scope share this one dict, so what Connexion's routing
        # writes into it is seen outside it too.
        scope.setdefault("extensions", {})
        headers = scope["headers"]
        peer = scope.get("client")
        request = RequestScope(
            self.runtime,
            request_id_of(headers),
            client_address(peer[0] if peer else None, headers, self.trusted_hops),
        )
        method = scope["method"]
        head = method == "HEAD"
        if head:
            scope["method"] = "GET"
        private = method.encode() not in CACHEABLE or any(
            name == b"authorization" for name, _ in headers
        )
        stamp = (b"x-request-id", request.request_id.encode("latin-1"))
        span = None if self.tracer is None else self._start_span(self.tracer, request, headers)
        started = time.perf_counter()
        status = CLIENT_GONE
        recorded = False

        async def answer(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = message["headers"] = list(message.get("headers", ()))
                names = {name.lower() for name, _ in raw}
                if b"x-request-id" not in names:  # Flask's answers carry it already
                    raw.append(stamp)
                raw.append(NOSNIFF)
                if private and b"cache-control" not in names:
                    raw.append(NO_STORE)
                if request.deprecations:
                    deprecated(raw, request.deprecations)
            elif message["type"] == "http.response.body":
                if head:
                    message = {**message, "body": b""}
                if not message.get("more_body", False):
                    recorded = True
                    self.record(request, method, status, time.perf_counter() - started, span)
            await send(message)

        try:
            await self._in_fresh_context(request, scope, receive, answer, span)
        except Exception:
            status = 500 if status == CLIENT_GONE else status
            raise
        finally:
            if not recorded:
                self.record(request, method, status, time.perf_counter() - started, span)

    async def _in_fresh_context(
        self,
        request: RequestScope,
        scope: Scope,
        receive: Receive,
        send: Send,
        span: trace.Span | None = None,
    ) -> None:
        """The rest of the stack, in a task whose context holds only `request` (and the
        server span, if traced); cancelling this task (a client gone) cancels the one it
        awaits."""

        async def rest() -> None:
            await self.app(scope, receive, send)

        context = contextvars.Context()
        context.run(enter, request)
        if span is not None:
            context.run(otel_context.attach, trace.set_span_in_context(span))
        await asyncio.get_running_loop().create_task(rest(), context=context)

    @staticmethod
    def _start_span(
        tracer: trace.Tracer, request: RequestScope, headers: list[tuple[bytes, bytes]]
    ) -> trace.Span:
        """The server span, continuing the caller's trace if its headers carry a valid one."""
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        span = tracer.start_span(
            "HTTP", context=propagate.extract(carrier), kind=trace.SpanKind.SERVER
        )
        found = span.get_span_context()
        if found.is_valid:
            request.trace_id = trace.format_trace_id(found.trace_id)
        return span

    def record(
        self,
        request: RequestScope,
        method: str,
        status: int,
        seconds: float,
        span: trace.Span | None = None,
    ) -> None:
        plan = request.plan
        operation, route = (plan.operation_id, plan.route) if plan else (UNROUTED, "-")
        method = method if method in KNOWN_METHODS else OTHER_METHOD
        self.metrics.observe(operation, method, status, seconds)
        caller = request.caller
        for used in request.deprecations:
            self.metrics.deprecated(operation, used.feature, caller.role if caller else "anonymous")
        self.access_log.write(
            request_id=request.request_id,
            client=request.client,
            method=method,
            route=route,
            operation=operation,
            status=status,
            duration_ms=seconds * 1000,
            user=str(caller.id) if caller else None,
            trace_id=request.trace_id,
        )
        if span is not None:
            self._end_span(span, request, method, status)

    def _end_span(self, span: trace.Span, request: RequestScope, method: str, status: int) -> None:
        if span.is_recording():
            plan = request.plan
            span.update_name(
                f"{plan.operation_id} {plan.route}" if plan else f"{UNROUTED} {method}"
            )
            caller = request.caller
            runtime = self.runtime
            span.set_attributes(
                {
                    "http.request.method": method,
                    "http.response.status_code": status,
                    "app.request_id": request.request_id,
                    "app.caller.role": caller.role if caller else "anonymous",
                    "app.rate_limit": rate_limit_outcome(request, status),
                    "app.breaker.database": runtime.database_guard.breaker.state,
                    "app.breaker.rate_limit_storage": runtime.rate_limits.breaker.state,
                }
            )
            if plan is not None:
                span.set_attributes(
                    {"http.route": plan.route, "app.operation_id": plan.operation_id}
                )
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(trace.StatusCode.ERROR)
        span.end()


def rate_limit_outcome(request: RequestScope, status: int) -> str:
    """`none` (the operation has no limit), `refused` (a 429), `counted`, or `skipped` (not
    counted: limits are off, the storage was down or its breaker open, or the request
    never got that far)."""
    plan = request.plan
    if plan is None or plan.rate_limit is None:
        return "none"
    if status == 429:
        return "refused"
    return "counted" if request.rate_limit is not None else "skipped"
