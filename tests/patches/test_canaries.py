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

import pytest
from a2wsgi.wsgi import build_environ
from connexion.apps.flask import FlaskASGIApp, FlaskOperation
from connexion.decorators import FlaskDecorator
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from starlette.middleware.cors import CORSMiddleware

from service.app import create_app
from service.contract import Contract
from service.patches.flask_bridge import FlaskBridge
from service.patches.request_validation import UnsupportedParameter
from tests.settings import settings_for

ROOT = Path(__file__).resolve().parents[2]
PATCHED = ("connexion", "starlette", "a2wsgi", "Flask", "Werkzeug", "jsonschema", "uvicorn")


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
    for name in ("send", "preflight_response", "simple_response"):
        assert hasattr(CORSMiddleware, name), name
    middleware = CORSMiddleware(lambda *_: None, allow_origins=["https://a.example"])
    assert {"simple_headers", "preflight_headers"} <= set(vars(middleware))


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
