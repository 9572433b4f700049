"""A header is read as it was validated: one that holds one value is sent on one line.

Connexion validates a header parameter by its first line (Starlette's `Headers.get`);
Flask, through WSGI, reads every line joined by a comma. Two `Idempotency-Key` lines
of 200 characters each passed validation and were stored as one key of 401, commas and
all; two `Authorization` lines were checked by their first token and read by Flask as
`Bearer a,Bearer b`. So, decided once from the contract, per operation:

- a header parameter it declares (and `Authorization` where the operation takes a
  bearer token) is one field line: given on more than one, it is a 400
  `VALIDATION_ERROR` naming every such header;
- a header the contract marks `x-list: true` (`If-Match`, `If-None-Match`: lists in
  RFC 9110, whose lines a recipient may join, §5.3) has its lines joined by `, ` into
  one, so that validation (`maxLength`) and the handler read the same value.

Inside Connexion, after routing (which names the operation), before security and
validation. `X-Request-ID` is made one line further out (request_id.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from service.access.routing_guard import routed_operation
from service.contract import Contract
from service.errors import Detail, validation_error

AUTHORIZATION = "Authorization"
LIST_MARK = "x-list"
GIVEN_TWICE = "is given more than once"
Lines = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class HeaderPlan:
    """One operation's headers, as the contract declares them (their declared spelling)."""

    one_value: frozenset[str]
    lists: frozenset[str]


def header_plans(contract: Contract) -> dict[str, HeaderPlan]:
    """Routed operation (as Connexion names it) -> its plan."""
    plans = {}
    for operation_id in contract.operations:
        headers = [p for p in contract.parameters_of(operation_id) if p["in"] == "header"]
        one_value = {p["name"] for p in headers if not p.get(LIST_MARK)}
        if contract.takes_bearer(operation_id):
            one_value.add(AUTHORIZATION)
        plans[contract.routed_name(operation_id)] = HeaderPlan(
            one_value=frozenset(one_value),
            lists=frozenset(p["name"] for p in headers if p.get(LIST_MARK)),
        )
    return plans


def _encoded(names: frozenset[str]) -> dict[bytes, str]:
    return {name.lower().encode("latin-1"): name for name in names}


def refuse_repeated(lines: Lines, one_value: dict[bytes, str]) -> None:
    """400 naming each one-value header given on more than one line."""
    counts = Counter(name.lower() for name, _ in lines if name.lower() in one_value)
    details: list[Detail] = [
        {"field": one_value[name], "in": "header", "message": GIVEN_TWICE}
        for name, count in counts.items()
        if count > 1
    ]
    if details:
        raise validation_error(sorted(details, key=lambda detail: detail["field"]))


def joined_lists(lines: Lines, lists: dict[bytes, str]) -> Lines | None:
    """The lines with each list header's lines made one, where its first was; None when
    no list header has more than one line."""
    values: dict[bytes, list[bytes]] = {}
    for name, value in lines:
        if name.lower() in lists:
            values.setdefault(name.lower(), []).append(value)
    if all(len(found) < 2 for found in values.values()):
        return None
    result: Lines = []
    written: set[bytes] = set()
    for name, value in lines:
        key = name.lower()
        if key not in values:
            result.append((name, value))
        elif key not in written:
            written.add(key)
            result.append((key, b", ".join(values[key])))
    return result


class HeaderLinesMiddleware:
    def __init__(self, app: ASGIApp, contract: Contract) -> None:
        self.app = app
        self.plans = {
            operation: (_encoded(plan.one_value), _encoded(plan.lists))
            for operation, plan in header_plans(contract).items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            plan = self.plans.get(routed_operation(scope) or "")
            if plan is not None:
                one_value, lists = plan
                refuse_repeated(scope["headers"], one_value)
                joined = joined_lists(scope["headers"], lists)
                if joined is not None:
                    scope = {**scope, "headers": joined}
        await self.app(scope, receive, send)
