"""Connexion's Flask views, with their wrappers built once instead of on every request.

Connexion 3.3 wraps each handler (parameters in, response out) inside the view on every
request: `FlaskOperation.fn` makes a new `FlaskDecorator`, whose wrapper calls
`decorate()` again, which inspects the handler's signature again. Nothing of that depends
on the request. `prepare_views` swaps each view for the same decorator applied once; the
request is still parsed per request, by the same code (docs/performance-notes.md: -75 µs a request).

Connexion registers the views when it builds its middleware stack (on the first request
or lifespan event), so `prepare_views_of` hooks the Flask side's `add_api`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask
from connexion import FlaskApp
from connexion.apps.flask import FlaskASGIApp, FlaskOperation
from connexion.decorators import FlaskDecorator


class PreparedFlaskDecorator(FlaskDecorator):
    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)

        @functools.wraps(function)
        def view(*_args: Any, **_kwargs: Any) -> Any:
            # Flask passes the path's arguments; Connexion reads them from the request.
            return decorated(self.framework.get_request(uri_parser=self.uri_parser))

        return view


def prepare_views(app: flask.Flask) -> None:
    """Replace every view Connexion registered on `app` by its prepared equivalent."""
    for endpoint, view in list(app.view_functions.items()):
        if isinstance(view, FlaskOperation):
            decorator = PreparedFlaskDecorator(
                pythonic_params=view.pythonic_params, jsonifier=view.jsonifier
            )
            app.view_functions[endpoint] = decorator(view._fn)  # noqa: SLF001 (the patch)


def prepare_views_of(app: FlaskApp) -> None:
    """Prepare the views of every API as soon as Connexion adds it to the Flask side."""
    flask_side: FlaskASGIApp = app._middleware_app  # noqa: SLF001 (the patch)
    add_api = flask_side.add_api

    def add_api_and_prepare(specification: Any, **kwargs: Any) -> Any:
        api = add_api(specification, **kwargs)
        prepare_views(flask_side.app)
        return api

    flask_side.add_api = add_api_and_prepare
