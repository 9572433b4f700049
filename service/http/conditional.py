"""Conditional requests (RFC 9110 §13): entity tags, `If-None-Match` and `If-Match`.

An entity tag is `"<version>-<digest>"`: the row's `version` column, which every write
moves on and which the write's own UPDATE or DELETE checks (`WHERE version = …`, the
mapper's `version_id_col`), and a digest of the representation the caller was given, so a
tag also changes with what the row's version does not cover (an author's new name, a
post's comment count, an email shown to one caller and not another). Tags are strong: two
responses with one tag are the same bytes.

A write with `If-Match` compares the tag of the current representation before writing;
the write then changes only the version it read, so a concurrent writer holding the same
tag finds the version moved on and gets 412 too (`StaleWrite` becomes
`PreconditionFailed` in `preconditions`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import flask

from models.errors import PreconditionFailed, PreconditionRequired, StaleWrite

ETAG = "ETag"
Response = tuple[Any, int, dict[str, str]]


def _digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def entity_tag(version: int, document: Mapping[str, Any]) -> str:
    """The tag of a row's representation: its version, and a digest of what was shown."""
    return f'"{version}-{_digest(document)}"'


def content_tag(document: Mapping[str, Any]) -> str:
    """The tag of a representation made of several sources (the dashboard): no single
    row version covers it, so the digest alone."""
    return f'"{_digest(document)}"'


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
    """The `If-Match` of a write, if it has one."""

    tags: list[str] | None

    def check(self, current_tag: Callable[[], str]) -> None:
        """412 unless the current representation's tag is one of `If-Match`'s (strong
        comparison: a weak tag never matches); `*` matches any current representation."""
        if self.tags is None or "*" in self.tags:
            return
        if current_tag() not in self.tags:
            raise PreconditionFailed(
                "The resource has changed since the version this request names in "
                "If-Match; read it again and reapply the change"
            )


@contextmanager
def preconditions(*, required: bool) -> Iterator[Precondition]:
    """The write's `If-Match` (428 when `required` and missing), and 412 for a write
    that lost the race to another one changing the version it checked."""
    header = flask.request.headers.get("If-Match")
    if header is None and required:
        raise PreconditionRequired(
            "This write replaces every field: send If-Match with the ETag of the version "
            "you read, so that no one else's change is overwritten"
        )
    precondition = Precondition(_tags(header) if header is not None else None)
    try:
        yield precondition
    except StaleWrite:
        if precondition.tags is None:
            raise
        raise PreconditionFailed(
            "The resource changed while this request was writing it; read it again"
        ) from None
