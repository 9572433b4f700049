"""The access log line and the metrics of one app, in-process: fields, formats, labels."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from dataclasses import replace

import pytest
from limits import parse

from service.app import create_app, runtime_of
from service.contract import Contract
from service.observability.logs import JsonFormatter, RequestIdFilter
from service.observability.metrics import Metrics
from service.resilience.breaker import Breaker
from service.settings import Settings, SettingsError
from tests.builders import user_payload

SIGN_UP_LIMIT = parse(Contract.load().operations["create_user"]["x-rate-limit"]).amount


def access_lines(client) -> io.StringIO:
    """Where `client`'s app writes its access lines from now on."""
    stream = io.StringIO()
    runtime_of(client.app).access_log.stream = stream
    return stream


TEXT_LINE = re.compile(r"^\S+ \S+ INFO \[(?P<id>[^\]]+)\] access: (?P<fields>.*)$")


def text_fields(line: str) -> dict[str, str]:
    found = TEXT_LINE.match(line)
    assert found, line
    return dict(pair.split("=", 1) for pair in found["fields"].split(" ")) | {"id": found["id"]}


def test_one_line_per_request_with_the_operation_and_route(app_with):
    client = app_with()
    stream = access_lines(client)
    client.get("/api/users/not-a-uuid?search=secret", headers={"X-Request-ID": "one-req"})
    client.delete("/api/health")
    client.request("BREW", "/api/health")
    lines = stream.getvalue().splitlines()
    fields = [text_fields(line) for line in lines]
    assert [(f["method"], f["route"], f["operation"], f["status"]) for f in fields] == [
        ("GET", "/api/users/{id}", "get_user", "400"),
        ("DELETE", "-", "unrouted", "405"),
        ("OTHER", "-", "unrouted", "405"),
    ]
    assert "secret" not in stream.getvalue() and "not-a-uuid" not in stream.getvalue()
    assert fields[0]["id"] == "one-req"


def test_a_forwarded_address_cannot_forge_a_field_of_the_text_line(app_with):
    client = app_with(trusted_proxy_hops=1)
    stream = access_lines(client)
    client.get("/api/health", headers={"X-Forwarded-For": "10.0.0.1 user=admin status=200"})
    (line,) = stream.getvalue().splitlines()
    # Not an IP address: the socket peer's is logged (the test client's name).
    assert text_fields(line)["client"] == "testclient"
    assert "user=admin status=200" not in line
    assert text_fields(line)["status"] == "200"


def test_the_json_access_line_holds_the_fields(app_with):
    client = app_with(log_format="json")
    stream = access_lines(client)
    client.get("/api/posts", headers={"X-Request-ID": "json-req"})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert {key: record[key] for key in ("logger", "request_id", "route", "status", "user")} == {
        "logger": "access",
        "request_id": "json-req",
        "route": "/api/posts",
        "status": 200,
        "user": None,
    }
    assert record["time"].endswith("Z") and record["level"] == "INFO"


def test_json_lines_hold_the_fields_and_a_traceback_in_one_line():
    formatter = JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
        record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["message"], entry["level"], entry["request_id"]) == ("failed here", "ERROR", "-")
    assert "ValueError: boom" in entry["exception"]


@pytest.mark.usefixtures("clean_database")
def test_requests_and_refusals_are_counted_by_operation(settings):
    app = create_app(replace(settings, ratelimit_enabled=True))
    client = app.test_client()
    for _ in range(3):
        client.get("/api/posts")
    assert client.get("/metrics").status_code == 404  # never on the API's port
    statuses = [
        client.post("/api/users", json=user_payload()).status_code for _ in range(SIGN_UP_LIMIT + 2)
    ]
    assert statuses.count(429) == 2
    sample = runtime_of(app).metrics.registry.get_sample_value
    labels = {"operation": "list_posts", "method": "GET", "status": "200"}
    assert sample("http_requests_total", labels) == 3
    assert sample("http_request_duration_seconds_count", {"operation": "list_posts"}) == 3
    unrouted = {"operation": "unrouted", "method": "GET", "status": "404"}
    assert sample("http_requests_total", unrouted) == 1
    assert sample("rate_limit_refusals_total", {"limit": "create_user"}) == 2
    runtime_of(app).database.dispose()


def test_a_breaker_state_is_followed():
    metrics = Metrics()
    breaker = Breaker(
        "x", failures=1, cooldown=60, max_cooldown=60, is_failure=lambda _error: True, probe=print
    )
    metrics.watch_breaker("database", breaker)
    sample = metrics.registry.get_sample_value
    assert sample("circuit_breaker_state", {"dependency": "database"}) == 0
    with pytest.raises(OSError), breaker.guarded():
        raise OSError("down")
    assert sample("circuit_breaker_state", {"dependency": "database"}) == 2


def test_metrics_settings_default_to_loopback_and_can_be_turned_off():
    settings = Settings.from_env({})
    assert (settings.metrics_host, settings.metrics_port, settings.log_format) == (
        "127.0.0.1",
        9464,
        "text",
    )
    assert Settings.from_env({"METRICS_PORT": "off"}).metrics_port is None
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    for environ in ({"METRICS_PORT": "70000"}, {"METRICS_PORT": "x"}, {"LOG_FORMAT": "xml"}):
        with pytest.raises(SettingsError, match=next(iter(environ))):
            Settings.from_env(environ)
