"""A body must say it is one of the media types its operation declares, in UTF-8.

Connexion guesses the first declared media type when `Content-Type` is missing and
validates the body as that, but Flask then hands the handler raw bytes, and the
authorization layer's `x-field-roles` check reads no JSON: the body would reach the
handler unchecked. So, for every operation with a request body, a missing, empty,
unknown or multipart `Content-Type`, or a charset other than UTF-8 (RFC 8259: JSON
is UTF-8), is a 415 before validation. Parameters are ignored but `charset`; media
types compare case-insensitively, and what passes goes on spelled as declared.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.access.routing_guard import routed_operation
from service.contract import Contract
from service.errors import ApiError, ErrorCode

UTF8 = frozenset({"utf-8", "utf8"})


def unsupported(message: str) -> ApiError:
    return ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, message)


def declared_media_types(contract: Contract) -> dict[str, tuple[str, ...]]:
    """Routed operation (as Connexion names it) -> the media types its body may have."""
    return {
        contract.routed_name(operation_id): tuple(
            media.lower() for media in operation["requestBody"]["content"]
        )
        for operation_id, operation in contract.operations.items()
        if "requestBody" in operation
    }


def checked_media_type(header: str | None, accepted: tuple[str, ...]) -> str:
    """The media type `header` names, lower-case, if it is one of `accepted` (in UTF-8
    when it names a charset); else a 415."""
    expected = " or ".join(accepted)
    if not header or not header.strip():
        raise unsupported(f"A request body needs a Content-Type header: {expected}")
    media_type, *parameters = (part.strip() for part in header.split(";"))
    if media_type.lower() not in accepted:
        raise unsupported(f"Content-Type must be {expected}, not {media_type[:100]!r}")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in UTF8:
            raise unsupported(f"A JSON body must be UTF-8, not {value.strip()[:40]!r}")
    return media_type.lower()


class ContentTypeMiddleware:
    """Inside Connexion, after routing and authentication, before body validation."""

    def __init__(self, app: ASGIApp, contract: Contract) -> None:
        self.app = app
        self.media_types = declared_media_types(contract)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            accepted = self.media_types.get(routed_operation(scope) or "")
            if accepted is not None:
                header = Headers(scope=scope).get("content-type")
                media_type = checked_media_type(header, accepted)
                # Connexion picks the body validator by the header's exact spelling: an
                # upper-case `APPLICATION/JSON` would find none and skip validation.
                scope = {**scope, "headers": _with_content_type(scope["headers"], media_type)}
        await self.app(scope, receive, send)


def _with_content_type(
    headers: list[tuple[bytes, bytes]], media_type: str
) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-type"]
    return [*kept, (b"content-type", f"{media_type}; charset=utf-8".encode("latin-1"))]
