"""Just after Connexion's routing: the request's plan, its header lines, and its body's
media type.

Connexion's router (Starlette's) writes the operation it matched into the ASGI scope;
this layer, the first after it, puts that operation's plan into the request's scope, so
that every layer after it (validation, the bridge to Flask, the access step, the access
line) reads the same plan. A request routed to no operation never gets here (Connexion
answers it 404 or 405) and keeps no plan.

Each header is then read as it was validated (service/edge/header_lines.py): a one-value
header on two lines is a 400, a list header's lines are joined.

A body must then say it is one of the media types its operation declares, in UTF-8:
Connexion guesses the first declared type when `Content-Type` is missing, and Flask then
hands the handler raw bytes that no authorization rule read. So, for every operation with
a request body, a missing, empty, unknown or multipart `Content-Type`, or a charset other
than UTF-8 (RFC 8259), is a 415 before validation. Parameters are ignored but `charset`;
media types compare case-insensitively, and what passes goes on spelled as declared.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.edge.header_lines import joined_lists, refuse_repeated
from service.edge.scope import current
from service.http.errors import ApiError, ErrorCode
from service.patches.connexion_internals import routed_operation
from service.plan import Plans

UTF8 = frozenset({"utf-8", "utf8"})


def unsupported(message: str) -> ApiError:
    return ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, message)


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


class RoutedMiddleware:
    """Connexion's layer `BEFORE_VALIDATION`: after routing, before validation."""

    def __init__(self, app: ASGIApp, plans: Plans) -> None:
        self.app = app
        self.plans = plans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            plan = self.plans.of(routed_operation(scope))
            current().plan = plan
            if plan is not None:
                current().deprecations = plan.deprecations_in(
                    scope.get("query_string", b""), scope["headers"]
                )
                refuse_repeated(scope["headers"], plan.one_value_headers)
                joined = joined_lists(scope["headers"], plan.list_headers)
                if joined is not None:
                    scope = {**scope, "headers": joined}
            if plan is not None and plan.media_types:
                headers = scope["headers"]
                sent = [value for name, value in headers if name == b"content-type"]
                if len(sent) > 1:
                    raise unsupported("Content-Type is sent once, not on several lines")
                header = sent[0].decode("latin-1") if sent else None
                media_type = checked_media_type(header, plan.media_types)
                # Connexion picks the body validator by the header's exact spelling: an
                # upper-case `APPLICATION/JSON` would find none and skip validation.
                kept = [(name, value) for name, value in headers if name != b"content-type"]
                kept.append((b"content-type", f"{media_type}; charset=utf-8".encode("latin-1")))
                scope = {**scope, "headers": kept}
        await self.app(scope, receive, send)
