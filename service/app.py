"""`create_app(settings)`: the only place where the layers of a request are wired.

Outside in (README, "Layout"):
edge (scope, request id, client address, HEAD, security headers, access line, metrics)
-> CORS -> contract documents -> body limit -> no trailing slash
-> Connexion (errors, routing) -> routed (the plan; media type) -> validation
-> the bridge to Flask (where it runs) -> access step (credentials -> rate limit ->
authorization) -> handler -> database.
Nothing happens at import time; servers use `create_app` as a factory (`uvicorn
--factory service.app:create_app`). Everything the app needs, it builds and owns
(service/runtime.py).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import connexion
import yaml
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions

from models.db import Database, DatabaseLimits
from models.passwords import Passwords
from service.access.rate_limits import RateLimits
from service.access.step import AccessStep, stamp
from service.app_secret import AppSecret
from service.contract import SPEC_DIR, Contract
from service.dashboard.aggregate import Dashboard
from service.edge.body_limit import BodyLimitMiddleware
from service.edge.contract_files import ContractFilesMiddleware
from service.edge.edge import EdgeMiddleware
from service.edge.routed import RoutedMiddleware
from service.edge.trailing_slash import NoTrailingSlashMiddleware
from service.http.errors import register_error_handlers
from service.http.unimplemented import spec_first_resolver, warn_of_unimplemented
from service.observability.access_log import AccessLog
from service.observability.logs import configure_logging
from service.observability.metrics import Metrics, scrape_registry, serve_metrics
from service.observability.tracing import Tracing
from service.patches.allowlist_cors import AllowlistCORSMiddleware
from service.patches.connexion_internals import layers_without_security
from service.patches.flask_bridge import bridge_to_flask
from service.patches.prepared_views import prepare_views_of
from service.patches.request_validation import (
    VALIDATOR_MAP_WITH_DETAILS,
    refuse_unvalidated_parameters,
)
from service.plan import Plans
from service.resilience.database import DatabaseGuard
from service.resilience.placement import Placement
from service.resilience.readiness import Readiness
from service.runtime import EXTENSION, Runtime
from service.settings import Settings

DOCS_PATH = "/docs"  # Swagger UI, under the API's base path
# Connexion indents JSON by default; compact bodies are ~40 % smaller.
COMPACT_JSON = Jsonifier(json, separators=(",", ":"))


def build_runtime(settings: Settings, contract: Contract) -> Runtime:
    """Everything one app owns, built from its settings."""
    limits = DatabaseLimits(
        connect_timeout=settings.database_connect_timeout,
        pool_timeout=settings.database_pool_timeout,
        statement_timeout=settings.database_statement_timeout,
    )
    plans = Plans(contract, rate_limit_scale=settings.ratelimit_scale)
    guard = DatabaseGuard(settings)
    database = Database(settings.database_url, limits, guard)
    guard.attach(database.engine)
    tracing = Tracing.from_env()
    tracing.instrument_engine(database.engine)
    metrics = Metrics()
    metrics.watch_pool(database.engine)
    metrics.watch_breaker("database", guard.breaker)
    rate_limits = RateLimits(plans, settings, refused=metrics.refused)
    metrics.watch_breaker("rate_limit_storage", rate_limits.breaker)
    return Runtime(
        settings=settings,
        contract=contract,
        plans=plans,
        database=database,
        database_guard=guard,
        passwords=Passwords(settings.password_hash_time_cost, settings.password_hash_memory_kib),
        rate_limits=rate_limits,
        threads=ThreadPoolExecutor(max(settings.threads, 1), thread_name_prefix="WSGI"),
        placement=Placement(settings),
        dashboard=Dashboard(settings, tracing),
        metrics=metrics,
        access_log=AccessLog(settings.log_format),
        readiness=Readiness(database, rate_limits),
        secret=AppSecret(database, settings.configured_secret),
        tracing=tracing,
    )


def create_app(
    settings: Settings | None = None, contract: Contract | None = None
) -> connexion.FlaskApp:
    """The service; `contract` defaults to openapi/openapi.yaml (tests pass variants)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)
    contract = contract or Contract.load()
    refuse_unvalidated_parameters(contract)
    runtime = build_runtime(settings, contract)
    if not settings.metrics_multiproc_dir:
        # One process (`make run`): it serves its own metrics. Under `make serve`,
        # gunicorn's arbiter serves every worker's (service/gunicorn_conf.py).
        serve_metrics(settings, scrape_registry(settings, runtime.metrics))

    app = connexion.FlaskApp(
        __name__,
        specification_dir=SPEC_DIR,
        jsonifier=COMPACT_JSON,
        # Credentials are checked by the access step, from the plan: in the order and
        # with the failure modes it decides (a database that cannot answer is a 503).
        middlewares=layers_without_security(),
    )
    app.app.extensions[EXTENSION] = runtime
    prepare_views_of(app)
    app.add_api(
        contract.document,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        pythonic_params=True,
        validator_map=VALIDATOR_MAP_WITH_DETAILS,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path=DOCS_PATH),
        # An operation declared before its handler exists answers 501.
        resolver=spec_first_resolver(),
    )
    warn_of_unimplemented(contract)
    register_error_handlers(app, contract.allowed_methods)
    # Outermost first: each is inserted just outside Connexion's exception layer, so
    # their answers (preflights, 413s) carry the request id and security headers too.
    edge = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(EdgeMiddleware, position=edge, runtime=runtime)
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
    app.add_middleware(
        NoTrailingSlashMiddleware, position=edge, keep_prefix=f"{contract.base_path}{DOCS_PATH}"
    )
    app.add_middleware(
        RoutedMiddleware, position=MiddlewarePosition.BEFORE_VALIDATION, plans=runtime.plans
    )
    access = AccessStep()
    app.app.before_request(access.admit)
    app.app.after_request(stamp)
    bridge_to_flask(app, placement=runtime.placement, executor=runtime.threads)
    return app


def runtime_of(app: connexion.FlaskApp) -> Runtime:
    """The runtime an app owns (for commands and tests that work beside it)."""
    runtime: Runtime = app.app.extensions[EXTENSION]
    return runtime
