"""Authorization: who may call an operation, as the spec declares it.

Each operation may say, in vendor extensions read once from the contract:

- `x-roles: [admin]`: the caller's role must be one of these;
- `x-allow: [self, admin]`: a role in the list, or a relation to the resource in the
  path (`self`: the user in the path is the caller);
- `x-field-roles: {role: [admin]}`: setting these body fields to anything but their
  current value (on create: their default) needs one of these roles;
- `x-param-roles: {cascade: [admin]}`: these query parameters, unless at their default;
- `x-param-value-roles: {sortBy: {email: [admin]}}`: these values of query parameters.

`Authorization.check` runs as a Flask `before_request` hook, after Connexion has
authenticated the caller and validated the request, so no handler repeats these checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connexion import context
from flask import request
from sqlmodel import Session

from models import post as posts
from models import user as users
from models.viewer import ANONYMOUS
from service.access.authentication import Caller, current_caller, unaccepted_token
from service.contract import Contract
from service.errors import ApiError, ErrorCode
from service.runtime import database


@dataclass(frozen=True)
class Target:
    """What the rules need to know of the resource in the path."""

    relations: frozenset[str]
    fields: Mapping[str, Any]


TargetLoader = Callable[[Session, Caller | None, Mapping[str, str]], Target]


def _user_target(session: Session, caller: Caller | None, path: Mapping[str, str]) -> Target:
    user = users.get(session, uuid.UUID(path["id"]))
    relations = {"self"} if caller is not None and user.id == caller.id else set()
    return Target(frozenset(relations), {"role": user.role})


def _post_target(session: Session, caller: Caller | None, path: Mapping[str, str]) -> Target:
    post = posts.get_visible(session, uuid.UUID(path["id"]), caller.viewer if caller else ANONYMOUS)
    relations = {"author"} if caller is not None and post.author_id == caller.id else set()
    return Target(frozenset(relations), {"status": post.status})


def _comment_target(session: Session, caller: Caller | None, path: Mapping[str, str]) -> Target:
    viewer = caller.viewer if caller else ANONYMOUS
    comment = posts.get_visible_comment(session, uuid.UUID(path["id"]), viewer)
    relations = set()
    if caller is not None and comment.author_id == caller.id:
        relations.add("author")
    if caller is not None and posts.get(session, comment.post_id).author_id == caller.id:
        relations.add("post-author")
    return Target(frozenset(relations), {"body": comment.body})


# The resource of an operation is the one its controller serves.
TARGETS: dict[str, TargetLoader] = {
    "handlers.users": _user_target,
    "handlers.posts": _post_target,
    "handlers.comments": _comment_target,
}


@dataclass(frozen=True)
class Policy:
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


def unauthorized(message: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHORIZED, message)


def forbidden(message: str) -> ApiError:
    return ApiError(ErrorCode.FORBIDDEN, message)


def _who(names: frozenset[str]) -> str:
    spoken = {"self": "the user themself", "author": "the author"}
    return " or ".join(
        sorted(
            spoken.get(name, f"an {name}" if name[0] in "aeiou" else f"a {name}") for name in names
        )
    )


def _require_param_role(
    caller: Caller | None, roles: frozenset[str], name: str, given: str
) -> None:
    if caller is None or caller.role not in roles:
        message = f"Only {_who(roles)} may use '{name}={given}'"
        raise unauthorized(message) if caller is None else forbidden(message)


class Authorization:
    def __init__(self, contract: Contract) -> None:
        self.policies: dict[str, Policy] = {}
        # Operations that take a bearer token (the others ignore `Authorization`).
        self.bearer_operations = frozenset(
            contract.routed_name(operation_id)
            for operation_id, operation in contract.operations.items()
            if any(
                "bearerAuth" in requirement
                for requirement in operation.get("security", contract.document["security"])
            )
        )
        for operation_id, operation in contract.operations.items():
            field_roles = {
                name: frozenset(roles) for name, roles in operation.get("x-field-roles", {}).items()
            }
            controller = operation["x-openapi-router-controller"]
            self.policies[contract.routed_name(operation_id)] = Policy(
                controller=controller,
                roles=frozenset(operation["x-roles"]) if "x-roles" in operation else None,
                allow=frozenset(operation["x-allow"]) if "x-allow" in operation else None,
                field_roles=field_roles,
                field_defaults={
                    name: contract.body_default(operation_id, name) for name in field_roles
                },
                param_roles={
                    name: frozenset(roles)
                    for name, roles in operation.get("x-param-roles", {}).items()
                },
                param_defaults={
                    name: contract.query_default(operation_id, name)
                    for name in operation.get("x-param-roles", {})
                },
                param_value_roles={
                    name: {value: frozenset(roles) for value, roles in values.items()}
                    for name, values in operation.get("x-param-value-roles", {}).items()
                },
            )

    def refuse_unaccepted_credentials(self) -> None:
        """Flask `before_request` hook: a bearer token sent but not accepted is never an
        anonymous call. It gets what its check raised, as on operations that require a
        token: 401 refused, 429 over the failed-credentials limit, 503 when it could not
        be checked (the database did not answer); a 401 when it was never checked.

        On operations whose security is `[bearerAuth, {}]` Connexion tries the token and,
        when its check raises, falls back to anonymous, swallowing the exception.
        """
        if "Authorization" not in request.headers or current_caller() is not None:
            return
        if context.operation.operation_id not in self.bearer_operations:
            return
        raise unaccepted_token() or unauthorized("A bearer token is required: Bearer <token>")

    def check(self) -> None:
        """Flask `before_request` hook: raise 401/403 unless the caller may go on."""
        policy = self.policies[context.operation.operation_id]
        if policy.is_open:
            return
        caller = current_caller()
        path = request.view_args or {}
        with database().session() as session:
            target: Target | None = None

            def load() -> Target:
                nonlocal target
                if target is None:
                    target = TARGETS[policy.controller](session, caller, path)
                return target

            if policy.roles is not None:
                self._require_role(caller, policy.roles)
            if policy.allow is not None and (caller is None or caller.role not in policy.allow):
                if caller is None:
                    raise unauthorized("A bearer token is required")
                if not load().relations & policy.allow:
                    raise forbidden(f"Only {_who(policy.allow)} may do this")
            self._check_fields(policy, caller, path, load)
            self._check_params(policy, caller)

    @staticmethod
    def _require_role(caller: Caller | None, roles: frozenset[str]) -> None:
        if caller is None:
            raise unauthorized("A bearer token is required")
        if caller.role not in roles:
            raise forbidden(f"Only {_who(roles)} may do this")

    @staticmethod
    def _check_params(policy: Policy, caller: Caller | None) -> None:
        for name, roles in policy.param_roles.items():
            given = request.args.get(name)
            if given is None or given.lower() == policy.param_defaults[name]:
                continue
            _require_param_role(caller, roles, name, given)
        for name, by_value in policy.param_value_roles.items():
            given = request.args.get(name)
            if given is not None and given in by_value:
                _require_param_role(caller, by_value[given], name, given)

    @staticmethod
    def _check_fields(
        policy: Policy,
        caller: Caller | None,
        path: Mapping[str, str],
        load: Callable[[], Target],
    ) -> None:
        if not policy.field_roles:
            return
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return
        for name, roles in policy.field_roles.items():
            if name not in body or (caller is not None and caller.role in roles):
                continue
            current = load().fields.get(name) if "id" in path else policy.field_defaults[name]
            if body[name] != current:
                message = f"Only {_who(roles)} may set '{name}' to {body[name]!r}"
                raise unauthorized(message) if caller is None else forbidden(message)
