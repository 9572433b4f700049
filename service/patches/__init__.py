"""Every reach into a library's internals, gathered here: re-check these on every upgrade.

Each module says why it exists (with the measured reason) and has a canary in
tests/patches/ that fails loudly when the library changes under it; the libraries they
touch are pinned in pyproject.toml and requirements/*.lock.

- prepared_views.py: Connexion's Flask views built once (FlaskOperation._fn,
  FlaskDecorator, FlaskASGIApp.add_api).
- flask_bridge.py: Connexion's a2wsgi bridge to Flask replaced (FlaskApp._middleware_app
  .asgi_app; a2wsgi's unexported build_environ).
- request_validation.py: Connexion's request validators report every error
  (JSONRequestBodyValidator._parse/_validate/_validator/_schema, ParameterValidator).
- allowlist_cors.py: Starlette's CORSMiddleware answering with the contract's methods
  and the error envelope (its undocumented send/simple_headers/preflight_response).
- fair_accept.py: asyncio's loop accepting a few connections per wake-up
  (BaseSelectorEventLoop._accept_connection).
"""
