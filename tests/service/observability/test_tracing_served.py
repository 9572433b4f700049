"""Traces across two real instances of the service, exported over OTLP/HTTP to a
receiver this test starts: the BFF (its dashboard's sources over `http`) and the core
(serving those sources), with the core's `stats` behind the fault proxy so that it can
be made silent."""

from __future__ import annotations

import uuid
from contextlib import ExitStack

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.builders import account
from tests.faults.proxy import PASS, SILENT, FaultProxy
from tests.otlp_receiver import Receiver, Span, otlp_receiver, tree
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV

TIMEOUT_MS = 1000


def _server_spans(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id and s.kind == "SERVER"]


def _trace_of(receiver: Receiver, request_id: str) -> str:
    """The trace id of the BFF's server span of `request_id` (the request id goes along
    to the core, whose spans hold it too)."""

    def bff_spans(spans: list[Span]) -> list[Span]:
        return [
            s
            for s in spans
            if s.service == "bff" and s.attributes.get("app.request_id") == request_id
        ]

    (root,) = bff_spans(receiver.wait_for(bff_spans))
    return root.trace_id


def test_one_dashboard_is_one_trace_across_the_bff_and_the_core(client, database_url, tmp_path):
    who = account(client)
    term = f"needle{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        receiver = stack.enter_context(otlp_receiver())
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
        common = {
            "DATABASE_URL": database_url,
            "RATELIMIT_ENABLED": "false",
            **FAST_HASHING_ENV,
            **otel,
        }
        core = stack.enter_context(
            running_server({**common, "OTEL_SERVICE_NAME": "core"}, how="run")
        )
        host, port = core.removeprefix("http://").split(":")
        proxy = stack.enter_context(FaultProxy(upstream=(host, int(port))))
        bff_env = {
            **common,
            "OTEL_SERVICE_NAME": "bff",
            "DASHBOARD_TIMEOUT_MS": str(TIMEOUT_MS),
            "DASHBOARD_PROFILE_URL": f"{core}/api",
            "DASHBOARD_NOTIFICATIONS_URL": f"{core}/api",
            "DASHBOARD_STATS_URL": f"http://127.0.0.1:{proxy.port}/api",
        }
        log = tmp_path / "bff.log"
        bff = stack.enter_context(running_server(bff_env, how="run", log_path=log))

        # 1. Every source answers: one trace, BFF server span -> three upstream calls ->
        #    the core's server spans -> the core's statements.
        whole = httpx.get(
            f"{bff}/api/dashboard", headers={**who.headers, "X-Request-ID": "whole"}, timeout=10
        )
        assert whole.status_code == 200, whole.text
        assert whole.json()["meta"]["errors"] == []
        trace_id = _trace_of(receiver, "whole")
        spans = receiver.wait_for(lambda s: len(_server_spans(s, trace_id)) == 4)
        ours = [s for s in spans if s.trace_id == trace_id]
        by_id = {s.span_id: s for s in ours}
        (root,) = [s for s in ours if s.parent_id == ""]
        assert (root.service, root.kind, root.name) == (
            "bff",
            "SERVER",
            "get_dashboard /api/dashboard",
        )
        assert root.attributes["http.response.status_code"] == 200
        assert root.attributes["app.caller.role"] == "user"
        assert root.attributes["app.breaker.database"] == "closed"
        upstream = {
            s.attributes["app.upstream.source"]: s for s in ours if s.name.startswith("upstream ")
        }
        assert set(upstream) == {"profile", "stats", "notifications"}
        assert all(s.parent_id == root.span_id for s in upstream.values())
        assert {s.attributes["app.upstream.outcome"] for s in upstream.values()} == {"OK"}
        clients = [
            s
            for s in ours
            if s.kind == "CLIENT" and s.service == "bff" and "db.statement" not in s.attributes
        ]
        assert len(clients) == 3
        assert {by_id[s.parent_id].name for s in clients} == {
            "upstream profile",
            "upstream stats",
            "upstream notifications",
        }
        core_servers = [s for s in ours if s.kind == "SERVER" and s.service == "core"]
        assert sorted(s.name for s in core_servers) == [
            "get_user /api/users/{id}",
            "get_user_stats /api/users/{id}/stats",
            "list_notifications /api/notifications",
        ]
        assert {by_id[s.parent_id].kind for s in core_servers} == {"CLIENT"}
        statements = [s for s in ours if s.service == "core" and "db.statement" in s.attributes]
        assert statements, tree(spans, trace_id)
        for statement in statements:
            # Each under a core server span (directly or through another span of the core).
            parent = by_id[statement.parent_id]
            assert parent.service == "core" and parent.kind == "SERVER"
        # The BFF's access line carries the trace id beside the request id.
        print("\n" + tree(spans, trace_id))

        # 2. The stats service goes silent: a partial answer, and its trace says which
        #    part failed, and that it was the long wait.
        proxy.set_mode(SILENT)
        partial = httpx.get(
            f"{bff}/api/dashboard", headers={**who.headers, "X-Request-ID": "partial"}, timeout=10
        )
        proxy.set_mode(PASS)
        assert partial.status_code == 200, partial.text
        assert partial.json()["meta"]["errors"] == [{"part": "stats", "code": "TIMEOUT"}]
        slow_trace = _trace_of(receiver, "partial")
        spans = receiver.wait_for(
            lambda s: (
                sum(x.name.startswith("upstream ") and x.trace_id == slow_trace for x in s) == 3
            )
        )
        upstream = {
            s.attributes["app.upstream.source"]: s
            for s in spans
            if s.trace_id == slow_trace and s.name.startswith("upstream ")
        }
        assert upstream["stats"].attributes["app.upstream.outcome"] == "TIMEOUT"
        assert upstream["stats"].status == 2
        assert upstream["stats"].ms >= TIMEOUT_MS * 0.9
        assert upstream["stats"].ms == max(s.ms for s in upstream.values())
        assert upstream["profile"].attributes["app.upstream.outcome"] == "OK"
        print("\n" + tree(spans, slow_trace))

        # 3. A search, with a malformed traceparent: a new trace, no error, and neither
        #    the term, the email nor the token in any span.
        search = httpx.get(
            f"{bff}/api/users",
            params={"search": term},
            headers={**who.headers, "traceparent": "00-zz-not-a-trace-01", "X-Request-ID": "s"},
            timeout=10,
        )
        assert search.status_code == 200, search.text
        search_trace = _trace_of(receiver, "s")
        spans = receiver.wait_for(
            lambda s: any(x.trace_id == search_trace and "db.statement" in x.attributes for x in s)
        )
        every_byte = b"".join(receiver.bodies)
        for secret in (term, who.user["email"], who.token):
            assert secret.encode() not in every_byte, secret
        access = [line for line in log.read_text().splitlines() if "] access: " in line]
        traced = {
            line.split("[", 1)[1].split("]", 1)[0]: line.rsplit("trace=", 1)[1] for line in access
        }
        assert traced["whole"] == trace_id
        assert traced["partial"] == slow_trace
        assert traced["s"] == search_trace


def test_each_gunicorn_worker_exports_its_own_spans(database_url):
    """`make serve`'s way: two workers, each with its own provider, batch processor and
    export thread, started after the fork; each one's spans reach the receiver."""
    with otlp_receiver() as receiver:
        env = {
            "DATABASE_URL": database_url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            **FAST_HASHING_ENV,
        }
        with running_server(env, how="serve", workers=2) as base, httpx.Client() as http:
            # A new connection each: the arbiter's listening socket is shared, so both
            # workers get some, sooner or later (a loaded machine may give one worker a
            # long run of them): batches until both have exported, within a bound.
            sent = 0
            for _ in range(BATCHES):
                for _ in range(20):
                    http.get(f"{base}/api/health", headers={"Connection": "close"})
                sent += 20
                receiver.wait_for(
                    lambda s, sent=sent: sum(x.name == "get_health /api/health" for x in s) >= sent
                )
                if len(instances_of(receiver.bodies)) == 2:
                    break
    assert len(instances_of(receiver.bodies)) == 2


BATCHES = 20


def instances_of(bodies: list[bytes]) -> set[str]:
    """The `service.instance.id` of every exporter whose spans arrived."""
    instances = set()
    for body in list(bodies):
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert attributes["service.name"] == "publishing-api"
            instances.add(attributes["service.instance.id"])
    return instances
