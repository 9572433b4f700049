"""Each operation's plan: what the contract says about it, compiled once at start-up.

Every layer of a request reads the plan of the operation it was routed to (through the
request's scope, service/edge/scope.py); none reads the contract again or derives these
facts on its own, so no two layers can disagree about a request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

from limits import RateLimitItem, parse

from service.contract import HTTP_METHODS, Contract

# required: a bearer token or 401; optional: a token is checked if sent; none: ignored.
Authentication = Literal["required", "optional", "none"]
# An operation's `x-rate-limit` that exempts it from counting.
UNLIMITED = "none"
# A header parameter whose lines make one list (RFC 9110 §5.3).
LIST_MARK = "x-list"
AUTHORIZATION = "Authorization"


@dataclass(frozen=True)
class Deprecation:
    """A deprecated operation, parameter or body field (`deprecated: true`, with
    `x-deprecated-since` and `x-sunset`): what an answer to a request using it carries."""

    # `operation`, `query:<name>`, `header:<Name>` or `body:<field>`: the metric's label.
    feature: str
    since: date
    sunset: date
    # Where its replacement is described: `x-deprecation-link`, else its place in the
    # served contract (`/api/openapi.json#/components/parameters/Page`).
    link: str

    @property
    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """`Deprecation` (RFC 9745), `Sunset` (RFC 8594) and the `Link` to its docs."""
        since = datetime.combine(self.since, datetime.min.time(), UTC)
        sunset = datetime.combine(self.sunset, datetime.min.time(), UTC)
        return (
            (b"deprecation", f"@{int(since.timestamp())}".encode()),
            (b"sunset", format_datetime(sunset, usegmt=True).encode()),
            (b"link", f'<{self.link}>; rel="deprecation"'.encode("latin-1")),
        )


def _day(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: not a date (YYYY-MM-DD): {value!r}") from None


def deprecation_of(
    node: Mapping[str, Any], feature: str, pointer: str, served_at: str
) -> Deprecation | None:
    """The deprecation a contract node declares, or None; one marked `deprecated: true`
    needs both dates (a deprecation without a sunset never ends)."""
    if not node.get("deprecated"):
        return None
    where = f"{pointer} ({feature})"
    if "x-sunset" not in node or "x-deprecated-since" not in node:
        raise ValueError(f"{where}: deprecated without x-deprecated-since and x-sunset")
    since = _day(node["x-deprecated-since"], where)
    sunset = _day(node["x-sunset"], where)
    if sunset <= since:
        raise ValueError(f"{where}: x-sunset is not after x-deprecated-since")
    link = node.get("x-deprecation-link") or f"{served_at}{quote(pointer, safe='/#~-_.')}"
    return Deprecation(feature, since, sunset, str(link))


def _escaped(part: str) -> str:
    """A JSON pointer's reference token (RFC 6901)."""
    return part.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Policy:
    """Who may call an operation (`x-roles`, `x-allow`, `x-field-roles`, `x-param-roles`,
    `x-param-value-roles`); service/access/authorization.py enforces it."""

    controller: str
    roles: frozenset[str] | None = None
    allow: frozenset[str] | None = None
    field_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    field_defaults: Mapping[str, Any] = field(default_factory=dict)
    param_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    param_defaults: Mapping[str, str] = field(default_factory=dict)
    param_value_roles: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return (
            self.roles is None
            and self.allow is None
            and not self.field_roles
            and not self.param_roles
            and not self.param_value_roles
        )


@dataclass(frozen=True)
class Plan:
    operation_id: str
    # How Connexion names the routed operation: the function it resolved to.
    routed_name: str
    method: str
    # The route template under the base path (`/api/posts/{id}`): logs and metrics name
    # requests by it, never by the raw path.
    route: str
    authentication: Authentication
    policy: Policy
    # None: `x-rate-limit: none`.
    rate_limit: RateLimitItem | None
    # `x-rate-limit-key: address`: counted per client address even for a signed-in caller.
    rate_limit_by_address: bool
    # `x-rate-limit-fields`: a body field whose change also counts against another
    # operation's limit (a new email against sign-up's) -> that operation's id.
    field_limits: Mapping[str, str]
    # The media types its request body may have, lower-case; () for no body.
    media_types: tuple[str, ...]
    # Headers that hold one value (declared parameters, and `Authorization` where a token
    # is taken): lower-case name as sent -> as declared. Given twice: a 400.
    one_value_headers: Mapping[bytes, str]
    # Headers marked `x-list: true`, lower-case: their lines are read as one list.
    list_headers: frozenset[bytes]
    # Declares 503: it waits on a dependency (the database, the rate-limit storage).
    waits_on_dependencies: bool
    # Declares 502 or 504: it calls other services (the dashboard).
    calls_upstreams: bool
    # `deprecated: true` on the operation itself.
    deprecation: Deprecation | None = None
    # Deprecated query parameters by name, header parameters by lower-case name.
    deprecated_query: Mapping[str, Deprecation] = field(default_factory=dict)
    deprecated_headers: Mapping[bytes, Deprecation] = field(default_factory=dict)
    # Deprecated top-level fields of its JSON body (the access step sees the body).
    deprecated_fields: Mapping[str, Deprecation] = field(default_factory=dict)

    def deprecations_in(
        self, query_string: bytes, headers: list[tuple[bytes, bytes]]
    ) -> list[Deprecation]:
        """What deprecated the request uses, but for its body's fields."""
        used = [self.deprecation] if self.deprecation else []
        if self.deprecated_query and query_string:
            pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
            names = {name for name, _ in pairs}
            used += [d for name, d in self.deprecated_query.items() if name in names]
        if self.deprecated_headers:
            sent = {name for name, _ in headers}
            used += [d for name, d in self.deprecated_headers.items() if name in sent]
        return used

    @property
    def is_read(self) -> bool:
        return self.method in ("GET", "HEAD", "OPTIONS")


def scaled(declared: str, scale: int) -> RateLimitItem:
    """`declared` ("10/minute") with its amount multiplied by `scale` (RATELIMIT_SCALE)."""
    item = parse(declared)
    return parse(f"{item.amount * scale}/{item.multiples} {item.GRANULARITY.name}")


def _authentication(requirements: list[dict[str, Any]]) -> Authentication:
    bearer = any("bearerAuth" in requirement for requirement in requirements)
    if not bearer:
        return "none"
    return "optional" if any(not requirement for requirement in requirements) else "required"


def _policy(contract: Contract, operation_id: str, operation: dict[str, Any]) -> Policy:
    field_roles = {
        name: frozenset(roles) for name, roles in operation.get("x-field-roles", {}).items()
    }
    param_roles = operation.get("x-param-roles", {})
    return Policy(
        controller=operation["x-openapi-router-controller"],
        roles=frozenset(operation["x-roles"]) if "x-roles" in operation else None,
        allow=frozenset(operation["x-allow"]) if "x-allow" in operation else None,
        field_roles=field_roles,
        field_defaults={name: contract.body_default(operation_id, name) for name in field_roles},
        param_roles={name: frozenset(roles) for name, roles in param_roles.items()},
        param_defaults={name: contract.query_default(operation_id, name) for name in param_roles},
        param_value_roles={
            name: {value: frozenset(roles) for value, roles in values.items()}
            for name, values in operation.get("x-param-value-roles", {}).items()
        },
    )


def _parameters_with_pointers(
    contract: Contract, template: str, method: str
) -> list[tuple[dict[str, Any], str]]:
    """The operation's parameters, resolved, each with the JSON pointer of where it is
    written (its component, for a `$ref`); the operation's own override its path's."""
    item = contract.document["paths"][template]
    found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for owner, pointer in (
        (item, f"#/paths/{_escaped(template)}"),
        (item[method], f"#/paths/{_escaped(template)}/{method}"),
    ):
        for index, declared in enumerate(owner.get("parameters", [])):
            where = declared.get("$ref", f"{pointer}/parameters/{index}")
            parameter = contract.resolve(declared)
            found[(parameter["in"], parameter["name"].lower())] = (parameter, where)
    return list(found.values())


def _deprecated_fields(
    contract: Contract, operation: dict[str, Any], pointer: str, served_at: str
) -> dict[str, Deprecation]:
    fields: dict[str, Deprecation] = {}
    for media, content in operation.get("requestBody", {}).get("content", {}).items():
        declared = content.get("schema", {})
        at = declared.get("$ref", f"{pointer}/requestBody/content/{_escaped(media)}/schema")
        for name, prop in contract.resolve(declared).get("properties", {}).items():
            where = f"{at}/properties/{_escaped(name)}"
            found = deprecation_of(contract.resolve(prop) | prop, f"body:{name}", where, served_at)
            if found is not None:
                fields[name] = found
    return fields


class Plans:
    """Every operation's plan, by the name Connexion gives a routed request."""

    def __init__(self, contract: Contract, *, rate_limit_scale: int = 1) -> None:
        document = contract.document
        default_limit = document["x-rate-limit-default"]
        self.auth_failures = scaled(document["x-rate-limit-auth-failures"], rate_limit_scale)
        self._by_routed_name: dict[str, Plan] = {}
        for template, item in document["paths"].items():
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                operation = item[method]
                operation_id = operation["operationId"]
                declared_limit = operation.get("x-rate-limit", default_limit)
                body = operation.get("requestBody", {}).get("content", {})
                responses = set(operation["responses"])
                authentication = _authentication(operation.get("security", document["security"]))
                headers = [p for p in contract.parameters_of(operation_id) if p["in"] == "header"]
                one_value = {p["name"] for p in headers if not p.get(LIST_MARK)}
                if authentication != "none":
                    one_value.add(AUTHORIZATION)
                served_at = f"{contract.base_path}/openapi.json"
                pointer = f"#/paths/{_escaped(template)}/{method}"
                deprecated = {
                    (p["in"], p["name"]): d
                    for p, where in _parameters_with_pointers(contract, template, method)
                    if (d := deprecation_of(p, f"{p['in']}:{p['name']}", where, served_at))
                }
                plan = Plan(
                    operation_id=operation_id,
                    routed_name=contract.routed_name(operation_id),
                    method=method.upper(),
                    route=contract.base_path + template,
                    authentication=authentication,
                    policy=_policy(contract, operation_id, operation),
                    rate_limit=None
                    if declared_limit == UNLIMITED
                    else scaled(declared_limit, rate_limit_scale),
                    rate_limit_by_address=operation.get("x-rate-limit-key") == "address",
                    field_limits=dict(operation.get("x-rate-limit-fields", {})),
                    media_types=tuple(media.lower() for media in body),
                    one_value_headers={name.lower().encode(): name for name in one_value},
                    list_headers=frozenset(
                        p["name"].lower().encode() for p in headers if p.get(LIST_MARK)
                    ),
                    waits_on_dependencies="503" in responses,
                    calls_upstreams=bool({"502", "504"} & responses),
                    deprecation=deprecation_of(operation, "operation", pointer, served_at),
                    deprecated_query={
                        name: d for (where, name), d in deprecated.items() if where == "query"
                    },
                    deprecated_headers={
                        name.lower().encode(): d
                        for (where, name), d in deprecated.items()
                        if where == "header"
                    },
                    deprecated_fields=_deprecated_fields(contract, operation, pointer, served_at),
                )
                self._by_routed_name[plan.routed_name] = plan

    def of(self, routed_name: str | None) -> Plan | None:
        """The plan of a routed operation (None: the request was routed to none)."""
        return self._by_routed_name.get(routed_name) if routed_name else None

    def __iter__(self) -> Iterator[Plan]:
        return iter(self._by_routed_name.values())

    def __getitem__(self, operation_id: str) -> Plan:
        for plan in self:
            if plan.operation_id == operation_id:
                return plan
        raise KeyError(operation_id)
