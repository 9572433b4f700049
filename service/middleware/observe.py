"""Each request, once it is answered: one access log line and its metrics.

Just inside the request id layer, so that every answer is seen (preflights, 413s, 404s,
the contract documents) and the log record carries the id. What Connexion's routing
wrote into the scope's `extensions` (shared by every layer, see request_context.py)
names the operation; its caller's id is what the bearer check left there.

A request is recorded just before its last byte is sent, so that a client that has its
answer finds it counted. One that ends without an answer (the client went away) counts
as status 499, as nginx says; one whose layers raised, as 500 (the exception still
propagates).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.access.client_address import address_of
from service.access_log import AccessEntry, write
from service.contract import HTTP_METHODS, Contract
from service.metrics import UNROUTED, Metrics

CLIENT_GONE = 499
KNOWN_METHODS = frozenset(method.upper() for method in HTTP_METHODS)
OTHER_METHOD = "OTHER"


def routes_of(contract: Contract) -> dict[str, tuple[str, str]]:
    """Connexion's name of each routed operation -> (operationId, route template)."""
    found = {}
    for template, item in contract.document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation_id = item[method]["operationId"]
                found[contract.routed_name(operation_id)] = (
                    operation_id,
                    contract.base_path + template,
                )
    return found


class ObserveMiddleware:
    def __init__(
        self, app: ASGIApp, *, contract: Contract, metrics: Metrics, trusted_proxy_hops: int
    ) -> None:
        self.app = app
        self.routes = routes_of(contract)
        self.metrics = metrics
        self.trusted_hops = trusted_proxy_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = CLIENT_GONE
        recorded = False

        async def observed(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body", False):
                # Before the last byte leaves: once a client has its answer, the request
                # is in the counts and the log.
                recorded = True
                self.record(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception:
            status = 500 if status == CLIENT_GONE else status
            raise
        finally:
            if not recorded:
                self.record(scope, status, time.perf_counter() - started)

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        extensions = scope.get("extensions", {})
        routed = extensions.get("connexion_routing", {}).get("operation_id")
        operation, route = self.routes.get(routed, (UNROUTED, "-"))
        method = scope["method"] if scope["method"] in KNOWN_METHODS else OTHER_METHOD
        self.metrics.observe(operation, method, status, seconds)
        user = extensions.get("connexion_context", {}).get("user")
        write(
            AccessEntry(
                client=address_of(scope, self.trusted_hops),
                method=method,
                route=route,
                operation=operation,
                status=status,
                duration_ms=seconds * 1000,
                user=str(user) if user else None,
            )
        )
