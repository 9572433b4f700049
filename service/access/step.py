"""The access step: credentials, then the rate limit, then authorization, in that order,
as one Flask `before_request` hook, for every routed request, from its plan.

Each part stops the request with the one error shape, and nothing after it runs:
- the view Werkzeug picked must be the operation Connexion routed and validated
  (the two routers disagree on a few paths: `/api/users/a%0Ab`), else 404;
- credentials (service/access/credentials.py): 401 for a token that is not accepted,
  429 for a bad one from an address over its failures, and the database's 503 when the
  token cannot be checked: a dependency that cannot answer is never a 401;
- the rate limit (service/access/rate_limits.py): 429 over it; counted per caller, or
  per address for anonymous callers and `x-rate-limit-key: address`;
- authorization (service/access/authorization.py): 401/403 as the plan's policy says.
It runs in the thread that runs the handler (service/resilience/placement.py decides
where), so a token lookup waits on the database where the handler would.
"""

from __future__ import annotations

from flask import Response, request

from service.access.authorization import Authorization
from service.access.credentials import authenticate
from service.edge.scope import current
from service.http.errors import ApiError, ErrorCode
from service.patches.connexion_internals import flask_endpoint


def no_route(path: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"No route matches {path[:200]}")


class AccessStep:
    def __init__(self) -> None:
        self.authorization = Authorization()
        # The Flask endpoint of each routed operation, computed once.
        self._endpoints: dict[str, str] = {}

    def admit(self) -> None:
        """Flask `before_request` hook."""
        scope = current()
        plan = scope.plan
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
        if plan is None or endpoint != self._endpoint_of(plan.routed_name):
            raise no_route(request.path)
        if plan.deprecated_fields and request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                scope.deprecations += [d for n, d in plan.deprecated_fields.items() if n in body]
        scope.caller = authenticate(plan, request.headers.get("Authorization"), scope)
        scope.rate_limit = scope.runtime.rate_limits.count(plan, scope)
        self.authorization.check(plan, scope.caller)

    def _endpoint_of(self, routed_name: str) -> str:
        endpoint = self._endpoints.get(routed_name)
        if endpoint is None:
            endpoint = self._endpoints[routed_name] = flask_endpoint(routed_name)
        return endpoint


def stamp(response: Response) -> Response:
    """Flask `after_request` hook: the request id and the rate limit's headers, on the
    handler's own response, before Connexion validates it against the contract."""
    scope = current()
    response.headers["X-Request-ID"] = scope.request_id
    if scope.rate_limit is not None:
        response.headers.update(scope.rate_limit.headers())
    return response
