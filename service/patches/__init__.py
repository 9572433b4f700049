"""Every reach into a library's internals, gathered here: re-check these on every upgrade.

Each module says why it exists (with the measured reason) and has a canary in
tests/patches/test_canaries.py that checks the signature and the behaviour it relies on,
so an upgrade fails there first; the libraries they touch are pinned in pyproject.toml
and requirements/*.txt. Behaviour of the service's own lives in ordinary modules.

- connexion_internals.py: the routed operation in the ASGI scope, the Flask endpoint of
  an operation, Connexion's layers less its security, its response validator.
- prepared_views.py: Connexion's Flask views built once (FlaskOperation._fn,
  FlaskDecorator, FlaskASGIApp.add_api).
- flask_bridge.py: Connexion's a2wsgi bridge to Flask replaced (FlaskApp._middleware_app
  .asgi_app; a2wsgi's unexported build_environ).
- request_validation.py: Connexion's request validators report every error
  (JSONRequestBodyValidator._parse/_validate/_validator/_schema, ParameterValidator).
- allowlist_cors.py: Starlette's CORSMiddleware answering with the contract's methods
  and the error envelope (its undocumented send/simple_headers/preflight_headers/
  is_allowed_origin).
- fair_accept.py: asyncio's loop accepting a few connections per wake-up
  (BaseSelectorEventLoop._accept_connection).
- graceful_server.py: uvicorn's server and httptools connection, for reloads and stops
  that cut no request, connections that rebalance, and a bound on slow headers.
- sqlalchemy_tracing.py: the SQLAlchemy instrumentation's EngineTracer, per engine.
"""
