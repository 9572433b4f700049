"""X-Request-ID: the client's own if it sent one usable id, else a fresh one.

A usable id is one line of 1-128 characters from `[A-Za-z0-9._:-]`; anything else (a
space, 200 characters, two lines) is replaced, never refused: a request is not worth
failing for the label on its log line. The id the request goes on with replaces every
line the client sent, so validation and handlers see the one the response carries.
"""

from __future__ import annotations

import re
import uuid

_NAME = b"x-request-id"
_USABLE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

Headers = list[tuple[bytes, bytes]]


def request_id_of(headers: Headers) -> str:
    """The request's id; `headers` (the ASGI scope's list) is left holding it alone."""
    sent = [index for index, (name, _) in enumerate(headers) if name == _NAME]
    if len(sent) == 1 and _USABLE.fullmatch(headers[sent[0]][1]):
        return headers[sent[0]][1].decode("ascii")
    fresh = uuid.uuid4().hex
    if sent:
        headers[:] = [(name, value) for name, value in headers if name != _NAME]
        headers.append((_NAME, fresh.encode("ascii")))
    return fresh
