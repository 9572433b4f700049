"""A span per SQL statement on one engine, from opentelemetry-instrumentation-sqlalchemy.

The instrumentor's public `instrument(engine=…)` is a process-wide singleton: it also
wraps `create_engine` and `Engine.connect` for every engine of the process, and a second
call (a second app in one process, as the tests make) is ignored. What it does for the
engine it is given is `EngineTracer(tracer, engine, connections_usage)`: listeners on
that engine only, which is what each app wants for its own. Its span holds the statement
with its placeholders (`db.statement`), never the parameters; the SQL commenter stays
off. Canary: tests/patches/test_canaries.py.
"""

from __future__ import annotations

from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import TracerProvider
from sqlalchemy import Engine

TRACER = "opentelemetry.instrumentation.sqlalchemy"


def trace_statements(engine: Engine, provider: TracerProvider) -> None:
    tracer = provider.get_tracer(TRACER)
    # No connection-usage metrics: the pool's are Prometheus' (service/observability/metrics.py).
    usage = NoOpMeterProvider().get_meter(TRACER).create_up_down_counter("unused")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]
