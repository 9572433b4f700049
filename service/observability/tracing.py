"""Traces (OpenTelemetry, W3C Trace Context), exported over OTLP/HTTP only when asked.

The standard variables switch it on: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, each app gets a tracer provider of its own, a
batch span processor and an OTLP/HTTP exporter; the SDK itself reads `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*` and
`OTEL_EXPORTER_OTLP_*`. `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keep it
off. Off (the default), `Tracing.tracer` is None: no span, no context, no header is
touched, and every instrumented layer takes its untraced path.

What is traced (docs/operations.md, "Traces"):
- the server span, started by the edge (service/edge/edge.py) from the request's
  `traceparent`/`tracestate` (a malformed one starts a new trace);
- a span per SQL statement (opentelemetry-instrumentation-sqlalchemy: the statement
  with its placeholders, never its parameters);
- the dashboard's upstream calls: one span per source with the outcome `meta.errors`
  reports, and under it the HTTP client span(s) of opentelemetry-instrumentation-httpx,
  which send `traceparent` to the upstream.

Under gunicorn each worker builds its app after the fork, so each has its own batch
processor and export thread (the SDK also restarts that thread in a forked child), and
its spans carry its own `service.instance.id` (the SDK's default resource: a fresh UUID
per provider).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy import Engine

from service.patches.sqlalchemy_tracing import trace_statements

DEFAULT_SERVICE_NAME = "publishing-api"
SCOPE = "service"
ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables ask for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINTS)


class Tracing:
    """One app's tracing; `tracer` is None when it is off."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self.tracer: trace.Tracer | None = (
            provider.get_tracer(SCOPE) if provider is not None else None
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Tracing:
        environ = os.environ if environ is None else environ
        if not wanted(environ):
            return cls(None)
        # Imported only when asked for: the exporter pulls in protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
        provider = TracerProvider(resource=resource)  # the sampler from OTEL_TRACES_SAMPLER
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider)

    @property
    def on(self) -> bool:
        return self.tracer is not None

    def instrument_engine(self, engine: Engine) -> None:
        """A client span per statement on `engine` (this app's only)."""
        if self.provider is None:
            return
        trace_statements(engine, self.provider)

    def transport(self, transport: httpx.AsyncHTTPTransport) -> httpx.AsyncBaseTransport:
        """`transport`, with a client span per request that carries `traceparent`."""
        if self.provider is None:
            return transport
        return AsyncOpenTelemetryTransport(transport, tracer_provider=self.provider)

    def shutdown(self) -> None:
        """Export what is pending and stop (tests; the SDK does it at exit too)."""
        if self.provider is not None:
            self.provider.shutdown()
