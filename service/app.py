"""`create_app(settings)`: the only place where the layers of a request are wired.

Outside in: request id -> security headers -> CORS -> contract documents -> body limit ->
Connexion (errors, routing, authentication, validation) -> Flask (rate limit,
authorization) -> handler -> database. Nothing happens at import time; servers use
`create_app` as a factory (`uvicorn --factory service.app:create_app`).
"""

from __future__ import annotations

import json

import connexion
import yaml
from a2wsgi import WSGIMiddleware
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from starlette.types import ASGIApp

from models import db
from service import auth
from service.authorization import Authorization
from service.body_limit import BodyLimitMiddleware
from service.contract_files import ContractFilesMiddleware
from service.cors import AllowlistCORSMiddleware
from service.errors import register_error_handlers
from service.limits import RateLimits
from service.logging import configure_logging
from service.prepared_views import prepare_views_of
from service.request_id import RequestIdMiddleware, stamp_flask_response
from service.routing_guard import refuse_unrouted_requests
from service.security_headers import SecurityHeadersMiddleware
from service.settings import Settings
from service.spec import SPEC_DIR, Contract
from service.validation import VALIDATOR_MAP_WITH_DETAILS
from service.wsgi_bridge import InlineWSGIMiddleware, ReadsInlineMiddleware

# Connexion indents JSON by default; compact bodies are ~40 % smaller.
COMPACT_JSON = Jsonifier(json, separators=(",", ":"))


def create_app(
    settings: Settings | None = None, contract: Contract | None = None
) -> connexion.FlaskApp:
    """The service; `contract` defaults to openapi/openapi.yaml (tests pass variants)."""
    settings = settings or Settings.from_env()
    configure_logging()
    db.configure(settings.database_url)
    contract = contract or Contract.load()
    limits = RateLimits(contract, settings)
    auth.configure(settings, guard=limits.guard_credentials)

    app = connexion.FlaskApp(__name__, specification_dir=SPEC_DIR, jsonifier=COMPACT_JSON)
    prepare_views_of(app._middleware_app)
    app.add_api(
        contract.document,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        pythonic_params=True,
        validator_map=VALIDATOR_MAP_WITH_DETAILS,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs"),
    )
    register_error_handlers(app, contract.allowed_methods)
    # Outermost first: each is inserted just outside Connexion's exception layer, so
    # their answers (preflights, 413s) carry the request id and security headers too.
    edge = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(RequestIdMiddleware, position=edge)
    app.add_middleware(SecurityHeadersMiddleware, position=edge)
    app.add_middleware(
        AllowlistCORSMiddleware,
        position=edge,
        origins=settings.cors_origins,
        methods_for=contract.allowed_methods,
    )
    # Inside CORS, so a browser tool on an allowed origin can fetch the contract.
    app.add_middleware(
        ContractFilesMiddleware,
        position=edge,
        contract=contract,
        yaml_text=contract.text or yaml.safe_dump(contract.document, sort_keys=False),
    )
    app.add_middleware(BodyLimitMiddleware, position=edge, max_bytes=settings.max_body_bytes)

    # Inside Flask, in this order: routed? -> rate limit -> allowed? -> handler.
    app.app.before_request(refuse_unrouted_requests)
    limits.init_app(app.app)
    app.app.before_request(Authorization(contract).check)
    app.app.after_request(stamp_flask_response)
    _bridge_to_flask(app, settings)
    return app


def _bridge_to_flask(app: connexion.FlaskApp, settings: Settings) -> None:
    """Replace Connexion's bridge to Flask (a2wsgi, 10 threads, no option to change it).

    Reads run in the event loop, writes in a pool of `WSGI_THREADS`: see
    service/wsgi_bridge.py for why, bench/README.md for the figures.
    """
    wsgi = app.app.wsgi_app
    inline = InlineWSGIMiddleware(wsgi)
    if settings.wsgi_threads == 0:
        bridge: ASGIApp = inline
    else:
        pooled = WSGIMiddleware(wsgi, workers=settings.wsgi_threads)
        bridge = ReadsInlineMiddleware(inline, pooled) if settings.inline_reads else pooled
    app._middleware_app.asgi_app = bridge
