"""HTTP calls to the dashboard's upstreams, with a timeout each and one retry.

Flask runs in the app's threads (service/patches/flask_bridge.py); a handler there that
waited on a socket itself would hold one thread per call, and one in the event loop
would stop every request of the worker. Instead each app owns one `Upstreams`: an
event loop in a thread of its own, started on first use, with one `httpx.AsyncClient`
(one connection pool per worker). A handler submits its calls there, all at once, and
waits for the slowest; the server's loop never waits on an upstream.

With tracing on, each call is a span `upstream <source>` (a child of the request's server
span, carried over to that loop) whose `app.upstream.outcome` is `OK` or the failure
`meta.errors` reports; under it, the HTTP client's span per attempt, which sends
`traceparent` along.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace

from service.observability.tracing import Tracing

# A refused or dropped connection is tried once more after this pause (seconds).
RETRY_BACKOFF = 0.05
# Connections kept per upstream host; more wait in the pool (within the timeout).
MAX_CONNECTIONS = 100
# Errors of the connection itself, worth one retry for an idempotent GET.
CONNECTION_ERRORS = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


class Failure(StrEnum):
    """Why a call gave nothing usable (the contract's `DashboardPartErrorCode`)."""

    TIMEOUT = "TIMEOUT"
    UNREACHABLE = "UNREACHABLE"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"


@dataclass(frozen=True)
class Answer:
    """A 200 with a JSON body, or the failure that stood in its way."""

    body: Any = None
    failure: Failure | None = None


class Upstreams:
    """One app's HTTP client for its upstreams, on a loop of its own."""

    def __init__(self, timeout: float, tracing: Tracing) -> None:
        self.timeout = timeout
        self.tracer = tracing.tracer
        self.tracing = tracing
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._thread: threading.Thread | None = None

    def get_json(self, source: str, url: str, headers: dict[str, str]) -> Future[Answer]:
        """Start `GET url` (for `source`) now; the future's answer comes within `timeout`
        seconds, whatever happens (it never raises)."""
        loop = self._started()
        if self.tracer is None:
            call = self._get_json(url, headers)
        else:
            call = self._traced(self.tracer, otel_context.get_current(), source, url, headers)
        return asyncio.run_coroutine_threadsafe(call, loop)

    async def _traced(
        self,
        tracer: trace.Tracer,
        parent: otel_context.Context,
        source: str,
        url: str,
        headers: dict[str, str],
    ) -> Answer:
        with tracer.start_as_current_span(
            f"upstream {source}", context=parent, attributes={"app.upstream.source": source}
        ) as span:
            answer = await self._get_json(url, headers)
            outcome = "OK" if answer.failure is None else answer.failure.value
            span.set_attribute("app.upstream.outcome", outcome)
            if answer.failure is not None:
                span.set_status(trace.StatusCode.ERROR, outcome)
            return answer

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="upstreams", daemon=True)
                thread.start()
                # Made once, outside any call's timeout (its TLS context takes a while);
                # it binds to the loop that first uses it: this one, always.
                limits = httpx.Limits(
                    max_connections=MAX_CONNECTIONS,
                    max_keepalive_connections=MAX_CONNECTIONS,
                )
                transport = None
                if self.tracing.on:
                    # A client given a transport does not make its own: the limits go here.
                    transport = self.tracing.transport(
                        httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
                    )
                self._client = httpx.AsyncClient(
                    timeout=self.timeout,
                    limits=limits,
                    transport=transport,
                    follow_redirects=False,
                    trust_env=False,
                )
                self._loop, self._thread = loop, thread
            return self._loop

    async def _get_json(self, url: str, headers: dict[str, str]) -> Answer:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._get_with_one_retry(url, headers)
        except (TimeoutError, httpx.TimeoutException):
            return Answer(failure=Failure.TIMEOUT)
        except httpx.TransportError:
            return Answer(failure=Failure.UNREACHABLE)
        if response.status_code != 200:
            return Answer(failure=Failure.UPSTREAM_ERROR)
        try:
            return Answer(body=response.json())
        except ValueError:  # not JSON, or not UTF-8
            return Answer(failure=Failure.UPSTREAM_ERROR)

    async def _get_with_one_retry(self, url: str, headers: dict[str, str]) -> httpx.Response:
        client = self._client
        assert client is not None  # made with the loop
        try:
            return await client.get(url, headers=headers)
        except CONNECTION_ERRORS:
            await asyncio.sleep(RETRY_BACKOFF)
            return await client.get(url, headers=headers)

    def close(self) -> None:
        """Close the pool and stop the loop (tests; a worker's exit ends both anyway)."""
        with self._lock:
            loop, thread, client = self._loop, self._thread, self._client
            self._loop = self._thread = self._client = None
        if loop is None or thread is None:
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
