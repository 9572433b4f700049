"""The access log line and the metrics of one app, in-process: fields, formats, labels."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace

import pytest
from limits import parse

from service.app import create_app, runtime_of
from service.contract import Contract
from service.log_format import JsonFormatter, RequestIdFilter
from service.metrics import Metrics
from service.resilience.breaker import Breaker
from service.settings import Settings, SettingsError
from tests.builders import user_payload

SIGN_UP_LIMIT = parse(Contract.load().operations["create_user"]["x-rate-limit"]).amount


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "access"]


def test_one_record_per_request_with_the_operation_and_route(client, caplog):
    caplog.set_level(logging.INFO, logger="access")
    client.get("/api/users/not-a-uuid?search=secret", headers={"X-Request-ID": "one-req"})
    client.delete("/api/health")
    client.request("BREW", "/api/health")
    records = access_records(caplog)
    fields = [record.fields for record in records]  # type: ignore[attr-defined]
    assert [(f["method"], f["route"], f["operation"], f["status"]) for f in fields] == [
        ("GET", "/api/users/{id}", "get_user", 401),
        ("DELETE", "-", "unrouted", 405),
        ("OTHER", "-", "unrouted", 405),
    ]
    written = " ".join(record.getMessage() for record in records)
    assert "secret" not in written and "not-a-uuid" not in written
    assert records[0].request_id == "one-req"  # type: ignore[attr-defined]


def test_a_forwarded_address_cannot_forge_a_field_of_the_text_line(app_with, caplog):
    caplog.set_level(logging.INFO, logger="access")
    client = app_with(trusted_proxy_hops=1)
    client.get("/api/health", headers={"X-Forwarded-For": "10.0.0.1 user=admin status=200"})
    (record,) = access_records(caplog)
    assert record.getMessage().startswith('client="10.0.0.1 user=admin status=200" method=GET')


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
