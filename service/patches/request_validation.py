"""Request validation that reports every invalid field, plugged into Connexion.

Connexion's stock validators stop at the first error and give one joined string. These
subclasses keep its parsing and its strict unknown-parameter check but collect every
error with `iter_errors` and raise `ApiError` with `{field, in, message}` details.
They also make undecodable bodies a 400 instead of a 500, and compile each schema's
validator once instead of on every request.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import Any, cast

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.lifecycle import ConnexionRequest
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    ParameterValidator,
)
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from starlette.datastructures import QueryParams
from starlette.types import Scope

from service.contract import Contract
from service.http import errors

ROOT = "$"

# Python's jsonschema accepts any string with an "@" as an email. Clients, generated SDKs
# and Schemathesis check RFC 5321 properly; so does this, with jsonschema_rs's checker.
_EMAIL = jsonschema_rs.validator_for({"format": "email"}, validate_formats=True)
FORMATS: FormatChecker = copy.deepcopy(Draft4Validator.FORMAT_CHECKER)


@FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.is_valid(value)


def _field(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or ROOT


def _details(error: ValidationError, location: str, prefix: str = "") -> Iterator[errors.Detail]:
    """One detail per offending field; `required` and `additionalProperties` name the field."""
    base = [prefix] if prefix else []
    path = [*base, *error.absolute_path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in cast(list[str], error.validator_value):
            if name not in instance:
                yield {"field": _field([*path, name]), "in": location, "message": "is required"}
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(cast(dict[str, Any], error.schema).get("properties", {}))
        for name in instance:
            if name not in known:
                yield {
                    "field": _field([*path, name]),
                    "in": location,
                    "message": "is not a known field",
                }
        return
    yield {"field": _field(path), "in": location, "message": _message(error)}


MAX_MESSAGE = 200


def _message(error: ValidationError) -> str:
    """The spec's own words for a broken pattern (`x-pattern-message`), else jsonschema's.

    jsonschema quotes the whole offending value; a megabyte string must not come back whole.
    """
    message = error.message
    if isinstance(error.schema, dict) and (
        error.schema.get("writeOnly") or error.schema.get("format") == "password"
    ):
        # Never echo a password, not even a rejected one.
        message = message.replace(repr(error.instance), "the value")
    elif error.validator == "pattern" and isinstance(error.schema, dict):
        custom = error.schema.get("x-pattern-message")
        if custom:
            message = f"{error.instance!r} {custom}"
    if len(message) > MAX_MESSAGE:
        message = f"{message[: MAX_MESSAGE - 1]}…"
    return message


def _unique(details: Iterable[errors.Detail]) -> list[errors.Detail]:
    seen: set[tuple[str, ...]] = set()
    result = []
    for detail in details:
        key = tuple(detail.values())
        if key not in seen:
            seen.add(key)
            result.append(detail)
    return result


# OpenAPI patterns are ECMA-262 regular expressions; Python's `re` differs (its `$`
# matches before a final newline, its `\s` has other members). Checking them with
# jsonschema_rs makes the service agree with clients and fuzzers on what matches.
_patterns: dict[str, Any] = {}


def _ecma_pattern(
    validator: Draft4Validator, pattern: str, instance: Any, _schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = jsonschema_rs.validator_for({"pattern": pattern})
    if not compiled.is_valid(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


RequestValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft4RequestValidator, {"pattern": _ecma_pattern}
)

# Connexion hands over the same schema objects on every request (they live as long as
# the app), so their identity is a sound key; the schema is kept to pin that identity.
_compiled: dict[int, tuple[dict[str, Any], Draft4Validator]] = {}


def _validator_for(schema: dict[str, Any]) -> Draft4Validator:
    """Compile a schema's validator once instead of on every request."""
    entry = _compiled.get(id(schema))
    if entry is None:
        validator = RequestValidator(schema, format_checker=FORMATS)
        entry = _compiled[id(schema)] = (schema, validator)
    return entry[1]


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity` are Python's extensions, not JSON (RFC 8259)."""
    raise _NotJson(f"{name} is not a JSON value")


class BodyValidator(JSONRequestBodyValidator):
    """JSON bodies: every error at once; bad UTF-8, bad JSON and lone surrogates are 400s."""

    @property
    def _validator(self) -> Draft4Validator:
        return _validator_for(self._schema)

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:  # noqa: ARG002
        raw = b"".join([chunk async for chunk in stream])
        if not raw:
            return None
        try:
            text = raw.decode(self._encoding)
        except (UnicodeDecodeError, LookupError):
            raise errors.invalid_json(f"it is not valid {self._encoding}") from None
        try:
            body = json.loads(text, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, _NotJson) as exc:
            raise errors.invalid_json(str(exc)) from None
        except ValueError:
            # Python refuses integers of more than 4,300 digits (CVE-2020-10735).
            raise errors.invalid_json("it holds a number too long to read") from None
        except RecursionError:
            raise errors.invalid_json("it is nested too deeply") from None
        try:
            # A "\ud800" escape parses, but cannot be stored or sent back as UTF-8.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise errors.invalid_json("it contains a lone surrogate escape") from None
        return body

    def _validate(self, body: Any) -> None:
        if body is None:
            raise errors.validation_error(
                [{"field": ROOT, "in": "body", "message": "a JSON body is required"}]
            )
        found = sorted(self._validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if found:
            raise errors.validation_error(_unique(d for e in found for d in _details(e, "body")))


# A required `If-Match` left out, and nothing else wrong: 428, as RFC 6585 §3 says.
MISSING_IF_MATCH = {"field": "If-Match", "in": "header", "message": "is required"}


class ParametersValidator(ParameterValidator):
    """Path, query and header parameters: every error at once."""

    def _check(self, location: str, param: dict[str, Any], value: Any) -> list[errors.Detail]:
        name = param["name"]
        if value is None:
            if param.get("required"):
                return [{"field": name, "in": location, "message": "is required"}]
            return []
        schema = param.get("schema", param)
        return [
            {"field": name, "in": location, "message": _message(error)}
            for error in _validator_for(schema).iter_errors(value)
        ]

    def validate_request(self, request: ConnexionRequest) -> None:
        details: list[errors.Detail] = []
        if self.strict_validation:
            unknown = self.validate_query_parameter_list(
                request, security_params=self.security_query_params
            )
            details += [
                {"field": name, "in": "query", "message": "is not a known parameter"}
                for name in sorted(unknown)
            ]
        sources: dict[str, Callable[[dict[str, Any]], Any]] = {
            "query": lambda p: request.query_params.get(p["name"]),
            "path": lambda p: request.path_params.get(p["name"].replace("-", "_")),
            "header": lambda p: request.headers.get(p["name"]),
        }
        raw = QueryParams(request.scope.get("query_string", b""))
        for param in self.parameters.get("query", []):
            # One value per scalar parameter: the layers must not read different ones
            # (Flask's `args.get` takes the first, Connexion's parsing the last).
            given = raw.getlist(param["name"])
            if len(given) > 1 and param.get("schema", {}).get("type") != "array":
                details.append(
                    {"field": param["name"], "in": "query", "message": "is given more than once"}
                )
        for location, value_of in sources.items():
            for param in self.parameters.get(location, []):
                try:
                    value = value_of(param)
                except (TypeError, ValueError) as exc:
                    details.append({"field": param["name"], "in": location, "message": str(exc)})
                    continue
                details += self._check(location, param, value)
        if details == [MISSING_IF_MATCH]:
            raise errors.ApiError(
                errors.ErrorCode.PRECONDITION_REQUIRED,
                "This write needs If-Match with the ETag of the version it changes, so "
                "that no one else's change is overwritten",
            )
        if details:
            raise errors.validation_error(_unique(details))


VALIDATOR_MAP_WITH_DETAILS: dict[str, Any] = {
    "parameter": ParametersValidator,
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": BodyValidator}),
}


class UnsupportedParameter(ValueError):
    """The contract declares a parameter `ParametersValidator` would not check."""


def refuse_unvalidated_parameters(contract: Contract) -> None:
    """Stop start-up on cookie parameters and `nullable` parameter schemas.

    `ParametersValidator` checks path, query and header parameters only, and checks a
    null against the schema as any other value; Connexion's own validator handled both.
    Rather than letting such a parameter through unchecked, the service refuses to start.
    """
    for operation_id, operation in contract.operations.items():
        path_item = contract.path_item_of(operation_id)
        for declared in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
            parameter = contract.resolve(declared)
            where = f"{operation_id}: parameter {parameter['name']!r}"
            if parameter["in"] == "cookie":
                raise UnsupportedParameter(f"{where} is a cookie; only path, query and header")
            if contract.resolve(parameter.get("schema", {})).get("nullable"):
                raise UnsupportedParameter(f"{where} is nullable; parameters cannot be null")
