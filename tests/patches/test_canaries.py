"""Canaries for service/patches/: each fails loudly when a library changes under a patch.

Every internal a patch touches is checked here by name and shape, and the library
versions the patches were written against are checked against pyproject.toml's pins: an
upgrade fails here first, pointing at the patch to re-check.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import re
import selectors
import tomllib
from importlib.metadata import version
from pathlib import Path

import flask
import pytest
from a2wsgi.wsgi import build_environ
from connexion.apps.flask import FlaskASGIApp, FlaskOperation
from connexion.decorators import FlaskDecorator
from connexion.frameworks.flask import flaskify_endpoint
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from starlette.middleware.cors import CORSMiddleware

from service.app import create_app
from service.contract import Contract
from service.patches.connexion_internals import (
    flask_endpoint,
    layers_without_security,
    response_validator,
    routed_operation,
)
from service.patches.flask_bridge import FlaskBridge
from service.patches.request_validation import UnsupportedParameter
from tests.settings import settings_for

ROOT = Path(__file__).resolve().parents[2]
PATCHED = (
    "connexion",
    "starlette",
    "a2wsgi",
    "Flask",
    "Werkzeug",
    "jsonschema",
    "uvicorn",
    "opentelemetry-instrumentation-sqlalchemy",
    "uvicorn-worker",
    "gunicorn",
)


def pinned() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?==([^;\s]+)", requirement)
        if match:
            pins[match.group(1).lower()] = match.group(3)
    return pins


@pytest.mark.parametrize("name", PATCHED)
def test_the_patched_libraries_are_the_pinned_versions(name):
    assert version(name) == pinned()[name.lower()], f"re-check service/patches/ for {name}"


def test_prepared_views_internals():
    operation = FlaskOperation(lambda: None, jsonifier=None, operation_id="x", pythonic_params=True)
    assert operation._fn is not None  # noqa: SLF001
    assert {"pythonic_params", "jsonifier"} <= set(vars(operation))
    assert callable(FlaskDecorator.decorate)
    assert callable(FlaskASGIApp.add_api)


def test_flask_bridge_internals():
    assert list(inspect.signature(build_environ).parameters) == ["scope", "body"]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [],
    }
    assert build_environ(scope, None)["asgi.scope"] is scope  # type: ignore[arg-type]


def test_the_bridge_replaces_connexions_and_takes_wsgi_middleware(database_url):
    app = create_app(settings_for(database_url))
    bridge = app._middleware_app.asgi_app  # noqa: SLF001
    assert isinstance(bridge, FlaskBridge)
    wrapped: list[object] = []

    def middleware(wsgi: object) -> object:
        wrapped.append(wsgi)
        return wsgi

    app.add_wsgi_middleware(middleware)  # type: ignore[arg-type]
    assert wrapped == [app.app.wsgi_app]
    assert app.test_client().get("/api/health").status_code == 200


def test_request_validation_internals():
    for name in ("_parse", "_validate", "_validator", "wrap_receive"):
        assert hasattr(JSONRequestBodyValidator, name), name
    parse = inspect.signature(JSONRequestBodyValidator._parse)  # noqa: SLF001
    assert list(parse.parameters) == ["self", "stream", "scope"]
    for name in ("validate_request", "validate_query_parameter_list"):
        assert hasattr(ParameterValidator, name), name


def test_cors_internals():
    """allowlist_cors.py overrides `send` and reads the headers Starlette computed."""
    send = inspect.signature(CORSMiddleware.send)
    assert list(send.parameters) == ["self", "message", "send", "request_headers"]
    assert list(inspect.signature(CORSMiddleware.is_allowed_origin).parameters) == [
        "self",
        "origin",
    ]
    middleware = CORSMiddleware(
        lambda *_: None, allow_origins=["https://a.example"], expose_headers=["ETag"]
    )
    assert middleware.is_allowed_origin("https://a.example")
    assert not middleware.is_allowed_origin("https://b.example")
    assert middleware.simple_headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Access-Control-Max-Age" in middleware.preflight_headers


def test_connexion_internals():
    """connexion_internals.py: where routing writes its match, the Flask endpoint of an
    operation, the default layers, the response validator with `nullable`."""
    assert ROUTING_CONTEXT == "connexion_routing"
    assert routed_operation({"extensions": {ROUTING_CONTEXT: {"operation_id": "h.x"}}}) == "h.x"
    assert routed_operation({"extensions": {}}) is None
    assert list(inspect.signature(flaskify_endpoint).parameters) == ["identifier", "randomize"]
    assert flask_endpoint("handlers.posts.list_posts") == "handlers_posts_list_posts"
    layers = layers_without_security()
    assert SecurityMiddleware in ConnexionMiddleware.default_middlewares
    assert SecurityMiddleware not in layers
    assert RoutingMiddleware in layers and RequestValidationMiddleware in layers
    assert layers.index(RoutingMiddleware) < layers.index(RequestValidationMiddleware)
    assert layers is not layers_without_security()  # Connexion inserts into it
    nullable = response_validator({"type": "string", "nullable": True, "format": "date-time"})
    assert nullable.is_valid(None) and nullable.is_valid("2026-01-01T00:00:00Z")
    assert not nullable.is_valid("yesterday")


def test_a_routed_request_carries_its_operation_in_the_scope(database_url):
    """The routed layer finds the plan by what Connexion's router wrote: a real request."""
    app = create_app(settings_for(database_url))
    seen: list[str | None] = []
    app.app.before_request(
        lambda: seen.append(routed_operation(flask.request.environ["asgi.scope"]))
    )
    assert app.test_client().get("/api/posts").status_code == 200
    assert seen == ["handlers.posts.list_posts"]


def test_fair_accept_internals():
    accept = inspect.signature(asyncio.selector_events.BaseSelectorEventLoop._accept_connection)  # noqa: SLF001
    assert list(accept.parameters)[:6] == [
        "self",
        "protocol_factory",
        "sock",
        "sslcontext",
        "server",
        "backlog",
    ]
    loop = asyncio.SelectorEventLoop()
    try:
        assert isinstance(loop._selector, selectors.BaseSelector)  # noqa: SLF001
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("parameter", "said"),
    [
        ({"name": "session", "in": "cookie", "schema": {"type": "string"}}, "is a cookie"),
        ({"name": "q", "in": "query", "schema": {"type": "string", "nullable": True}}, "nullable"),
    ],
)
def test_parameters_the_validator_would_not_check_stop_start_up(database_url, parameter, said):
    contract = Contract(copy.deepcopy(Contract.load().document))
    contract.document["paths"]["/health"]["get"]["parameters"] = [parameter]
    with pytest.raises(UnsupportedParameter, match=said):
        create_app(settings_for(database_url), contract)


def test_sqlalchemy_tracing_internals():
    """`EngineTracer(tracer, engine, connections_usage)` listens on that engine only, and
    its span holds the statement with placeholders, never the parameters."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from sqlalchemy import create_engine, text

    from service.patches.sqlalchemy_tracing import trace_statements

    assert list(inspect.signature(EngineTracer.__init__).parameters)[:4] == [
        "self",
        "tracer",
        "engine",
        "connections_usage",
    ]
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    traced, other = create_engine("sqlite://"), create_engine("sqlite://")
    trace_statements(traced, provider)
    for engine in (traced, other):
        with engine.connect() as connection:
            connection.execute(text("SELECT :secret"), {"secret": "canary-parameter"})
    (span,) = exported.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["db.statement"] == "SELECT ?"
    assert "canary-parameter" not in repr(dict(span.attributes))


def test_graceful_server_internals():
    """service/patches/graceful_server.py overrides these uvicorn methods and reads these
    attributes; service/worker.py replaces uvicorn-worker's `_serve`."""
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
    from uvicorn.server import Server, ServerState
    from uvicorn_worker import UvicornWorker

    assert list(inspect.signature(Server.on_tick).parameters) == ["self", "counter"]
    assert list(inspect.signature(Server.startup).parameters) == ["self", "sockets"]
    assert list(inspect.signature(Server.shutdown).parameters) == ["self", "sockets"]
    server = Server(Config(app=None))
    assert {"should_exit", "force_exit", "started", "server_state"} <= set(vars(server))
    assert "self.lifespan" in inspect.getsource(Server.startup)
    assert {"connections", "tasks"} <= set(vars(ServerState()))
    assert "Shutting down" in inspect.getsource(Server.shutdown)
    for name in ("on_headers_complete", "on_response_complete", "shutdown", "connection_lost"):
        assert callable(getattr(HttpToolsProtocol, name)), name
    assert list(inspect.signature(HttpToolsProtocol.__init__).parameters)[:3] == [
        "self",
        "config",
        "server_state",
    ]
    assert "keep_alive" in inspect.signature(RequestResponseCycle.__init__).parameters
    # An answer whose cycle no longer keeps alive says so and closes its connection.
    send = inspect.getsource(RequestResponseCycle.send)
    assert 'b"connection: close' in send and "self.transport.close()" in send
    worker_serve = inspect.getsource(UvicornWorker._serve)  # noqa: SLF001
    assert "Server(config=self.config)" in worker_serve
    assert "server.serve(sockets=self.sockets)" in worker_serve
    assert callable(UvicornWorker._install_sigquit_handler)  # noqa: SLF001
