"""Authorization: who may call an operation, as the spec declares it.

Each operation may say, in vendor extensions read once from the contract:

- `x-roles: [admin]`: the caller's role must be one of these;
- `x-allow: [self, admin]`: a role in the list, or a relation to the resource in the
  path (`self`: the user in the path is the caller);
- `x-field-roles: {role: [admin]}`: setting these body fields to anything but their
  current value (on create: their default) needs one of these roles;
- `x-param-roles: {cascade: [admin]}`: these query parameters, unless at their default;
- `x-param-value-roles: {sortBy: {email: [admin]}}`: these values of query parameters.

The plan of each operation holds its `Policy`, compiled once from the contract;
`Authorization.check` runs last in the access step (service/access/step.py), after the
request was validated, its credentials checked and its rate limit counted, so no handler
repeats these checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import request
from sqlmodel import Session

from models import post as posts
from models import user as users
from models.viewer import ANONYMOUS
from service.access.caller import Caller
from service.http.errors import ApiError, ErrorCode
from service.plan import Plan, Policy
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
    """Enforces each operation's `Policy` (service/plan.py), with what the request's
    path, query and body ask for."""

    def check(self, plan: Plan, caller: Caller | None) -> None:
        """Raise 401/403 unless the caller may go on."""
        policy = plan.policy
        if policy.is_open:
            return
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
