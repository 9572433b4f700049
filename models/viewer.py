"""Who is looking at the data: what the visibility rules of the models need to know."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    """The caller's id and role; both None for an anonymous caller."""

    id: uuid.UUID | None = None
    role: str | None = None

    def is_(self, user_id: uuid.UUID) -> bool:
        return self.id is not None and self.id == user_id


ANONYMOUS = Viewer()
