"""Traces in one process: off by default (nothing traced, `trace=-`), on when the OTEL_*
variables ask; an incoming W3C `traceparent` is continued, a malformed one starts a new
trace and is never an error; log records of a traced request carry its trace id."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import re

import pytest

from service.app import runtime_of
from service.edge.scope import RequestScope, enter
from service.observability.logs import RequestIdFilter, formatter_for
from service.observability.tracing import wanted
from tests.otlp_receiver import otlp_receiver

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"
MALFORMED = (
    "00-not-a-trace-01",
    f"00-{'0' * 32}-{PARENT_SPAN}-01",
    "x" * 600,
    "00-\xfc-01".encode("latin-1"),
)


def _access_lines(client) -> io.StringIO:
    stream = io.StringIO()
    runtime_of(client.app).access_log.stream = stream
    return stream


def _trace_field(line: str) -> str:
    found = re.search(r" trace=(\S+)$", line)
    assert found, line
    return found[1]


def test_tracing_is_off_unless_the_otel_variables_ask(app_with):
    client = app_with()
    assert runtime_of(client.app).tracing.tracer is None
    stream = _access_lines(client)
    for header in (TRACEPARENT, *MALFORMED):
        assert client.get("/api/health", headers={"traceparent": header}).status_code == 200
    assert {_trace_field(line) for line in stream.getvalue().splitlines()} == {"-"}
    assert not wanted({})
    assert not wanted({"OTEL_SERVICE_NAME": "api"})
    assert not wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})
    assert not wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"})
    assert wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x/v1/traces"})


def test_the_json_access_line_has_a_null_trace_id_when_off(app_with):
    client = app_with(log_format="json")
    stream = _access_lines(client)
    client.get("/api/health")
    assert json.loads(stream.getvalue())["trace_id"] is None


@pytest.fixture
def traced(monkeypatch, app_with):
    """A client of an app whose spans go to a receiver on 127.0.0.1."""
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "in-process")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        client = app_with()
        yield client, receiver
        runtime_of(client.app).tracing.shutdown()


def test_a_valid_traceparent_is_continued_and_named_in_the_access_line(traced):
    client, receiver = traced
    stream = _access_lines(client)
    response = client.get(
        "/api/users/not-a-uuid?search=secret", headers={"traceparent": TRACEPARENT}
    )
    assert response.status_code == 400
    assert _trace_field(stream.getvalue().strip()) == PARENT_TRACE
    spans = receiver.wait_for(lambda s: any(x.trace_id == PARENT_TRACE for x in s))
    (span,) = [s for s in spans if s.trace_id == PARENT_TRACE]
    assert (span.name, span.kind, span.parent_id) == (
        "get_user /api/users/{id}",
        "SERVER",
        PARENT_SPAN,
    )
    assert span.attributes["http.route"] == "/api/users/{id}"
    assert span.attributes["http.response.status_code"] == 400
    assert span.attributes["app.caller.role"] == "anonymous"
    assert b"secret" not in span.raw and b"not-a-uuid" not in span.raw


@pytest.mark.parametrize("header", MALFORMED)
def test_a_malformed_traceparent_starts_a_new_trace(traced, header):
    client, receiver = traced
    stream = _access_lines(client)
    assert client.get("/api/health", headers={"traceparent": header}).status_code == 200
    trace_id = _trace_field(stream.getvalue().strip())
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != "0" * 32
    spans = receiver.wait_for(lambda s: any(x.trace_id == trace_id for x in s))
    (span,) = [s for s in spans if s.trace_id == trace_id]
    assert span.parent_id == ""
    assert span.name == "get_health /api/health"


def test_an_unrouted_request_is_named_by_its_method_never_its_path(traced):
    client, receiver = traced
    stream = _access_lines(client)
    assert client.delete("/api/no-such-secret-path").status_code == 404
    trace_id = _trace_field(stream.getvalue().strip())
    spans = receiver.wait_for(lambda s: any(x.trace_id == trace_id for x in s))
    (span,) = [s for s in spans if s.trace_id == trace_id]
    assert span.name == "unrouted DELETE"
    assert span.attributes["http.response.status_code"] == 404
    assert "http.route" not in span.attributes
    assert b"no-such-secret-path" not in span.raw


def test_log_records_of_a_traced_request_carry_its_trace_id(traced):
    client, _receiver = traced
    record = logging.LogRecord("service", logging.ERROR, __file__, 1, "it broke", None, None)

    def in_request() -> None:
        enter(RequestScope(runtime_of(client.app), "req-1", "-", trace_id=PARENT_TRACE))
        RequestIdFilter().filter(record)

    contextvars.Context().run(in_request)
    assert (
        formatter_for("text")
        .format(record)
        .endswith(f"[req-1] service: it broke trace={PARENT_TRACE}")
    )
    assert json.loads(formatter_for("json").format(record))["trace_id"] == PARENT_TRACE
    untraced = logging.LogRecord("service", logging.ERROR, __file__, 1, "it broke", None, None)
    RequestIdFilter().filter(untraced)
    assert formatter_for("text").format(untraced).endswith("[-] service: it broke")
    assert "trace_id" not in json.loads(formatter_for("json").format(untraced))
