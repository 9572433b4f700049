"""What this service reads of Connexion's internals, in one place (pinned; canaries in
tests/patches/test_canaries.py):

- where Connexion's router writes the operation it matched into the ASGI scope
  (`ROUTING_CONTEXT`, `operation_id`): the routed layer looks the plan up by it;
- the Flask endpoint Connexion registers for an operation (`flaskify_endpoint`): the
  access step checks Werkzeug picked that one;
- Connexion's default layers, less its security layer: credentials are checked by the
  access step, from the plan (service/access/step.py);
- the Draft 4 validator with OpenAPI's `nullable` that Connexion validates responses
  with: the dashboard validates its upstreams' answers with the same one.
"""

from __future__ import annotations

from typing import Any

from connexion.frameworks.flask import flaskify_endpoint
from connexion.json_schema import Draft4ResponseValidator
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.security import SecurityMiddleware
from jsonschema import Draft4Validator
from starlette.types import Scope


def routed_operation(scope: Scope) -> str | None:
    """The operation Connexion's router matched for this request (`handlers.x.y`)."""
    routing: dict[str, Any] = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
    return routing.get("operation_id")


def flask_endpoint(routed_name: str) -> str:
    """The Flask endpoint Connexion registers for a routed operation."""
    endpoint: str = flaskify_endpoint(routed_name)
    return endpoint


def layers_without_security() -> list[Any]:
    """Connexion's own layers, in its order, but its security layer (a new list: Connexion
    inserts added layers into the list it is given)."""
    return [
        layer
        for layer in ConnexionMiddleware.default_middlewares
        if layer is not SecurityMiddleware
    ]


def response_validator(schema: dict[str, Any]) -> Any:
    """A validator of bodies as Connexion validates responses: Draft 4, `nullable`, formats."""
    return Draft4ResponseValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
