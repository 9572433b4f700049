"""Who is calling: the caller the access step accepted, read back from the request scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from models.viewer import ANONYMOUS, Viewer
from service.edge.scope import current_or_none


@dataclass(frozen=True)
class Caller:
    id: uuid.UUID
    role: str
    token_id: uuid.UUID

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.id, self.role)


def current_caller() -> Caller | None:
    """The authenticated caller of this request, or None for an anonymous one."""
    scope = current_or_none()
    return scope.caller if scope is not None else None


def current_viewer() -> Viewer:
    """Who is looking, for the models' visibility rules."""
    caller = current_caller()
    return caller.viewer if caller else ANONYMOUS


def signed_in() -> Caller:
    """The caller of an operation whose plan requires a token (the access step let no
    anonymous request through to its handler)."""
    caller = current_caller()
    if caller is None:
        raise RuntimeError("this operation requires a token, and the access step checks it")
    return caller
