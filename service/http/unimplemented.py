"""Spec first: an operation the contract declares before its handler exists.

Connexion resolves each operation to `x-openapi-router-controller`.`operationId` and,
when no such function exists, stops the app from starting. A designer merges the
contract first, so this resolver resolves such an operation to `not_implemented`
instead: the service starts, and the operation answers 501 `NOT_IMPLEMENTED` in the
error envelope (after its credentials, rate limit and validation, as any operation).
A handler module that exists but fails to import is still an error at start-up.

`unimplemented(contract)` lists them: the app logs them as a warning when it starts,
and `make test` lists them as a warning, or refuses them when the contract's
`info.x-release` is `final` (tests/test_unimplemented.py).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from connexion.resolver import Resolver

from service.contract import Contract
from service.http.errors import ApiError, ErrorCode

logger = logging.getLogger(__name__)

# `info.x-release: final`: the contract is released; every operation must have a handler.
RELEASE = "x-release"
FINAL = "final"


def handler_of(name: str) -> Callable[..., Any] | None:
    """The function `module.function` names, or None when it does not exist (neither
    the module nor the function); an import that fails for another reason raises."""
    module_name, _, function_name = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            return None
        raise
    function = getattr(module, function_name, None)
    return function if callable(function) else None


def not_implemented_view(name: str) -> Callable[..., Any]:
    """The view of an operation `name` without a handler: it answers 501."""

    def not_implemented(**_parameters: Any) -> Any:
        message = f"{name.rpartition('.')[2]} is in the contract but not implemented yet"
        raise ApiError(ErrorCode.NOT_IMPLEMENTED, message)

    # Flask names a view by its function: one without dots, one per operation.
    view_name = "not_implemented_" + name.replace(".", "_")
    not_implemented.__qualname__ = not_implemented.__name__ = view_name
    return not_implemented


def resolve(name: str) -> Callable[..., Any]:
    return handler_of(name) or not_implemented_view(name)


def spec_first_resolver() -> Any:
    """Connexion's resolver, but an operation without a handler answers 501."""
    return Resolver(function_resolver=resolve)


def unimplemented(contract: Contract) -> list[str]:
    """The operationIds of the contract that have no handler."""
    return [
        operation_id
        for operation_id in contract.operations
        if handler_of(contract.routed_name(operation_id)) is None
    ]


def warn_of_unimplemented(contract: Contract) -> None:
    missing = unimplemented(contract)
    if missing:
        logger.warning(
            "Operations in the contract without a handler (they answer 501 NOT_IMPLEMENTED): %s",
            ", ".join(missing),
        )


class NotReleasable(Exception):
    """The contract cannot be released as it is: an operation has no handler."""


def release_check(contract: Contract) -> list[str]:
    """The operations ahead of their handler (each must declare the `NotImplemented`
    501); refused when `info.x-release` is `final`."""
    missing = unimplemented(contract)
    for operation_id in missing:
        declared = contract.operations[operation_id]["responses"].get("501", {})
        if declared.get("$ref") != "#/components/responses/NotImplemented":
            raise NotReleasable(f"{operation_id} has no handler and does not declare its 501")
    if missing and contract.document["info"].get(RELEASE) == FINAL:
        raise NotReleasable(f"info.{RELEASE} is {FINAL}, but these have no handler: {missing}")
    return missing
