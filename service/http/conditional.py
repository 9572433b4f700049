"""Conditional requests (RFC 9110 §13): entity tags, `If-None-Match` and `If-Match`.

An entity tag is `"<version>-<digest>"`: the row's `version` column, which every write
moves on and which the write's own UPDATE or DELETE checks (`WHERE version = …`, the
mapper's `version_id_col`), and a digest of the representation the caller was given, so a
tag also changes with what the row's version does not cover (an author's new name, a
post's comment count, an email shown to one caller and not another). Tags are strong: two
responses with one tag are the same bytes.

The digest is keyed (HMAC-SHA256 with the tag key of the app's secret,
service/app_secret.py): an unkeyed one let whoever saw a user's own tag (in a proxy's
log, say) and their public view confirm a guess of their hidden email offline.

A write with `If-Match` compares the tag of the current representation before writing;
the write then changes only the version it read, so a concurrent writer holding the same
tag finds the version moved on and gets 412 too (`StaleWrite` becomes
`PreconditionFailed` in `preconditions`).

`*` (RFC 9110 §13.1.1-2): in `If-Match` of a PATCH or DELETE, any current representation
(so any existing resource); a PUT needs a tag, since `*` names no version it read (428).
In `If-None-Match` of a write, the resource exists, so 412; of a create, the collection
it posts to exists, so 412 as well: `Idempotency-Key` is what makes a create safe to
send again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import flask

from models.errors import PreconditionFailed, PreconditionRequired, StaleWrite
from service.runtime import current

ETAG = "ETag"
Response = tuple[Any, int, dict[str, str]]


def _digest(document: Mapping[str, Any], key: bytes | None) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = current().secret.keys().etag if key is None else key
    message = canonical.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def entity_tag(version: int, document: Mapping[str, Any], key: bytes | None = None) -> str:
    """The tag of a row's representation: its version, and a keyed digest of what was
    shown (`key`: by default the tag key of the app serving the request)."""
    return f'"{version}-{_digest(document, key)}"'


def content_tag(document: Mapping[str, Any], key: bytes | None = None) -> str:
    """The tag of a representation made of several sources (the dashboard): no single
    row version covers it, so the keyed digest alone."""
    return f'"{_digest(document, key)}"'


def still_fresh(tag: str) -> bool:
    """Whether the request's `If-None-Match` names `tag`: weak comparison, as RFC 9110
    §13.1.2 says, or `*`."""
    header = flask.request.headers.get("If-None-Match")
    if header is None:
        return False
    tags = {_opaque(t) for t in _tags(header)}
    return "*" in tags or _opaque(tag) in tags


def _tags(header: str) -> list[str]:
    """The entity tags of an `If-Match`/`If-None-Match` list, weak ones marked `W/`."""
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")


def representation(document: Mapping[str, Any], tag: str, status: int = 200) -> Response:
    """A read's answer: 304 with no body when `If-None-Match` names `tag` (weak
    comparison, as RFC 9110 §13.1.2 says), else the document with its tag."""
    if status == 200 and still_fresh(tag):
        return "", 304, {ETAG: tag}
    return {"data": document}, status, {ETAG: tag}


@dataclass(frozen=True)
class Precondition:
    """The `If-Match` and `If-None-Match` of a write, if it has them."""

    tags: list[str] | None
    none_match: list[str] | None = None

    def check(self, current_tag: Callable[[], str]) -> None:
        """412 unless the current representation's tag is one of `If-Match`'s (strong
        comparison: a weak tag never matches; `*` matches any current representation),
        and 412 when `If-None-Match` is `*` (the resource exists) or names the current
        tag (weak comparison), as RFC 9110 §13.2.2 evaluates them."""
        if self.tags is not None and "*" not in self.tags and current_tag() not in self.tags:
            raise PreconditionFailed(
                "The resource has changed since the version this request names in "
                "If-Match; read it again and reapply the change"
            )
        if self.none_match is None:
            return
        if "*" in self.none_match:
            raise PreconditionFailed(
                "If-None-Match: * asks to write only where the resource does not exist, "
                "and it does; nothing was written"
            )
        if _opaque(current_tag()) in {_opaque(tag) for tag in self.none_match}:
            raise PreconditionFailed(
                "If-None-Match names the resource's current version; nothing was written"
            )


def _header_tags(name: str) -> list[str] | None:
    header = flask.request.headers.get(name)
    return _tags(header) if header is not None else None


@contextmanager
def preconditions(*, required: bool) -> Iterator[Precondition]:
    """The write's `If-Match` (428 when `required` and missing, or `*`, which names no
    version) and `If-None-Match`, and 412 for a write that lost the race to another one
    changing the version it checked."""
    tags = _header_tags("If-Match")
    if required and tags is None:
        raise PreconditionRequired(
            "This write replaces every field: send If-Match with the ETag of the version "
            "you read, so that no one else's change is overwritten"
        )
    if required and (not tags or "*" in tags):
        raise PreconditionRequired(
            "This write replaces every field: If-Match must name the ETag of the version "
            "you read; * names none, so it could overwrite someone else's change"
        )
    precondition = Precondition(tags, _header_tags("If-None-Match"))
    try:
        yield precondition
    except StaleWrite:
        if precondition.tags is None:
            raise
        raise PreconditionFailed(
            "The resource changed while this request was writing it; read it again"
        ) from None


def refuse_conditional_create() -> None:
    """A create's `If-None-Match`: `*` is 412, as the collection the request posts to has
    a current representation (RFC 9110 §13.1.2), so it cannot make a create conditional;
    entity tags never match it (a collection has no ETag)."""
    none_match = _header_tags("If-None-Match")
    if none_match is not None and "*" in none_match:
        raise PreconditionFailed(
            "If-None-Match: * holds only where the target has no current representation, "
            "and the collection this request creates in has one; nothing was created. "
            "To make a create safe to send again, send an Idempotency-Key"
        )
