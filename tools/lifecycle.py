"""The deprecation lifecycle, as `make spec-diff` (tools/spec_diff.py) enforces it.

Nothing is removed or changed incompatibly before it was deprecated (`deprecated: true`
with `x-deprecated-since` and `x-sunset`) and its sunset has come. For that the gate
needs to know, of two versions of the contract:

- what the newer one removed that Optic does not call breaking (an optional parameter,
  a field of a request body: the service validates strictly, so a request still giving
  one would be a 400);
- what each breaking change is about (an operation, one of its parameters, a property),
  and whether the older version deprecated it with a sunset that has passed;
- what the newer one deprecates for the first time, which needs both dates, a sunset at
  least `MIN_NOTICE` after the deprecation, and a line under `### Deprecated` in the
  CHANGELOG naming it; a sunset is never moved earlier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MIN_NOTICE = timedelta(days=180)
PARAMETER = re.compile(r"\b(query|header|path|cookie) parameter '?([A-Za-z0-9_.-]+)'?")
PROPERTY = re.compile(r"\bproperty '?([A-Za-z0-9_.-]+)'?")
OPERATION_REMOVED = "[prevent operation removal]"


@dataclass(frozen=True)
class Deprecated:
    what: str  # `GET /posts`, `GET /posts: query parameter 'page'`, `property 'x' of Y`
    since: date | None
    sunset: date | None
    name: str  # what a CHANGELOG line names in backticks

    def gone_by(self, today: date) -> bool:
        return self.sunset is not None and self.sunset <= today


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node = target
    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """`METHOD /template`, its path item and its operation."""
    for template, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield f"{method.upper()} {template}", item, item[method]


def parameters(
    document: dict[str, Any], item: dict[str, Any], operation: dict[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for declared in [*item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _resolve(document, declared)
        if isinstance(parameter, dict) and "name" in parameter:
            found[(str(parameter.get("in")), str(parameter["name"]))] = parameter
    return found


def _properties(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each named schema's properties: schema name, property name, property."""
    for schema_name, schema in (document.get("components", {}).get("schemas") or {}).items():
        properties = schema.get("properties") if isinstance(schema, dict) else None
        for name, prop in (properties or {}).items():
            if isinstance(prop, dict):
                yield schema_name, name, prop


def _of(node: dict[str, Any], what: str, name: str) -> Deprecated | None:
    if not node.get("deprecated"):
        return None
    return Deprecated(what, _day(node.get("x-deprecated-since")), _day(node.get("x-sunset")), name)


def deprecations(document: dict[str, Any]) -> dict[str, Deprecated]:
    """Everything the document deprecates, by what it is."""
    found: dict[str, Deprecated] = {}
    for key, item, operation in operations(document):
        if (op := _of(operation, key, operation.get("operationId", key))) is not None:
            found[key] = op
        for (where, name), parameter in parameters(document, item, operation).items():
            what = f"{key}: {where} parameter '{name}'"
            if (param := _of(parameter, what, name)) is not None:
                found[what] = param
    for schema_name, name, prop in _properties(document):
        what = f"property '{name}' of {schema_name}"
        if (field := _of(prop, what, name)) is not None:
            found[what] = field
    return found


def removals(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    """What `head` removed of `base` that Optic lets pass: parameters of operations that
    remain, properties of named schemas that remain. Each as a breaking change."""
    removed: list[str] = []
    head_operations = {key: (item, op) for key, item, op in operations(head)}
    for key, item, operation in operations(base):
        if key not in head_operations:
            continue  # Optic reports a removed operation
        kept = parameters(head, *head_operations[key])
        for where, name in parameters(base, item, operation):
            if (where, name) not in kept:
                removed.append(f"{key}: [removes a parameter] {where} parameter '{name}' removed")
    head_schemas = head.get("components", {}).get("schemas") or {}
    for schema_name, name, _prop in _properties(base):
        schema = head_schemas.get(schema_name)
        if isinstance(schema, dict) and name not in (schema.get("properties") or {}):
            removed.append(
                f"the document: [removes a property] property '{name}' of {schema_name} removed"
            )
    return removed


def subject(change: str, deprecated: dict[str, Deprecated]) -> Deprecated | None:
    """The deprecation a breaking change (`OPERATION: [rule] message`) is covered by: its
    operation's, else the parameter's or the property's it names; None if none."""
    operation, _, finding = change.partition(": ")
    if operation in deprecated:
        return deprecated[operation]
    if found := PARAMETER.search(finding):
        return deprecated.get(f"{operation}: {found.group(1)} parameter '{found.group(2)}'")
    if found := PROPERTY.search(finding):
        of_schema = re.search(r" of ([A-Za-z0-9_.-]+)", finding[found.end() :])
        for what, item in deprecated.items():
            if what.startswith(f"property '{found.group(1)}' of ") and (
                of_schema is None or what.endswith(f" of {of_schema.group(1)}")
            ):
                return item
    return None


def premature(breaking: tuple[str, ...], base: dict[str, Any], today: date) -> list[str]:
    """The breaking changes not covered by a deprecation whose sunset has passed, each
    with why."""
    deprecated = deprecations(base)
    refused = []
    for change in breaking:
        item = subject(change, deprecated)
        if item is None:
            refused.append(f"{change} (it was never deprecated)")
        elif not item.gone_by(today):
            sunset = item.sunset.isoformat() if item.sunset else "none"
            refused.append(f"{change} (deprecated, but its sunset, {sunset}, has not come)")
    return refused


def changelog_items(changelog: str, version: str, heading: str) -> list[str]:
    """The items under `### <heading>` in the `## <version>` section of the changelog."""
    section = re.search(
        rf"^## +\[?v?{re.escape(version)}\]?(?:[ \t][^\n]*)?$(?P<body>.*?)(?=^## |\Z)",
        changelog,
        re.MULTILINE | re.DOTALL,
    )
    if section is None:
        return []
    listed = re.search(
        rf"^### +{re.escape(heading)}.*?$(?P<items>.*?)(?=^#{{2,3}} |\Z)",
        section.group("body"),
        re.MULTILINE | re.DOTALL,
    )
    if listed is None:
        return []
    return re.findall(r"^\s*[-*] +(.+)$", listed.group("items"), re.MULTILINE)


def deprecation_records(changelog: str, version: str) -> list[str]:
    """The items under `### Deprecated` in the `## <version>` section."""
    return changelog_items(changelog, version, "Deprecated")


def unannounced(base: dict[str, Any], head: dict[str, Any], changelog: str) -> list[str]:
    """What `head` deprecates that is not declared as the lifecycle needs."""
    version = str(head.get("info", {}).get("version"))
    records = " ".join(deprecation_records(changelog, version))
    before = deprecations(base)
    problems = []
    for what, item in deprecations(head).items():
        earlier = before.get(what)
        if item.since is None or item.sunset is None:
            problems.append(f"{what}: deprecated without x-deprecated-since and x-sunset")
        elif item.sunset - item.since < MIN_NOTICE:
            problems.append(
                f"{what}: its sunset ({item.sunset}) is less than {MIN_NOTICE.days} days "
                f"after its deprecation ({item.since})"
            )
        elif earlier is not None and earlier.sunset and item.sunset < earlier.sunset:
            problems.append(f"{what}: its sunset moved earlier, {earlier.sunset} -> {item.sunset}")
        elif earlier is None and f"`{item.name}`" not in records:
            problems.append(
                f"{what}: newly deprecated, but no line under '### Deprecated' in the "
                f"{version} section of the CHANGELOG names `{item.name}`"
            )
    return problems
