"""What the domain refuses, as small exception types with no idea of HTTP.

`service/http/errors.py` turns each into the API's error envelope, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

Detail = dict[str, str]


class DomainError(Exception):
    """Something the model layer refuses to do, in words a client may read."""

    def __init__(self, message: str, details: Sequence[Detail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details) if details else None


class NotFound(DomainError):
    """No such row, or one the viewer may not see (its existence is not leaked)."""

    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(f"{resource} '{identifier}' does not exist")


class Conflict(DomainError):
    """A unique value is taken, dependants block a delete, or the last admin would go."""


class InvalidToken(DomainError):
    """A bearer token that is unknown, expired or revoked."""


class WrongCredentials(DomainError):
    """An email and password that do not match (the same words for either mistake)."""


class Unconfirmed(DomainError):
    """A change that needs the caller's current password came without it, or with a
    wrong one: nothing was changed."""


class Unavailable(DomainError):
    """A dependency (the database) does not answer in time, or its breaker is open: the
    request was not carried out, and may be sent again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1, *, refused: bool = False) -> None:
        super().__init__(message)
        self.retry_after = max(retry_after, 1)
        # Not tried at all: the dependency failed so recently that it is left alone.
        self.refused = refused


class StaleWrite(Conflict):
    """The row changed between this request's read and its write (its version moved on):
    nothing was written."""


class PreconditionFailed(DomainError):
    """`If-Match` names a version of the resource that is no longer the current one."""


class PreconditionRequired(DomainError):
    """A write that must say which version it changes (`If-Match`) did not."""


class IdempotencyKeyReused(DomainError):
    """An `Idempotency-Key` sent again with a different request than the first time."""


class IdempotencyKeyInUse(DomainError):
    """The first request with this `Idempotency-Key` is still running after the wait."""


class SearchTooCostly(DomainError):
    """A search whose statements ran past its time bound (`SEARCH_TIMEOUT`): the term is
    one no index serves well. The client's to narrow, not an outage."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "Invalid query parameter 'search'",
            [
                {
                    "field": "search",
                    "in": "query",
                    "message": f"needs more than the {seconds:g} s a search may take: "
                    "use a longer or more specific term",
                }
            ],
        )
