"""A header is read as it was validated: one that holds one value is sent on one line.

Connexion validates a header parameter by its first line (Starlette's `Headers.get`);
Flask, through WSGI, reads every line joined by a comma. Two `Idempotency-Key` lines
of 200 characters each passed validation and were stored as one key of 401, commas and
all; two `Authorization` lines were checked by their first token and read by Flask as
`Bearer a,Bearer b`. So, decided once from the contract, in each operation's plan:

- a header parameter it declares (and `Authorization` where the operation takes a
  bearer token) is one field line: given on more than one, it is a 400
  `VALIDATION_ERROR` naming every such header;
- a header the contract marks `x-list: true` (`If-Match`, `If-None-Match`, `Prefer`:
  lists in RFC 9110 and RFC 7240, whose lines a recipient may join, §5.3) has its lines
  joined by `, ` into one, so that validation (`maxLength`) and the handler read the
  same value.

Applied by the routed layer (service/edge/routed.py), after routing, before validation.
`X-Request-ID` is made one line further out (service/edge/request_id.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from service.http.errors import Detail, validation_error

GIVEN_TWICE = "is given more than once"
Lines = list[tuple[bytes, bytes]]


def refuse_repeated(lines: Lines, one_value: Mapping[bytes, str]) -> None:
    """400 naming each one-value header given on more than one line (`one_value`: the
    header's name as sent, lower-case -> as the contract spells it)."""
    counts = Counter(name.lower() for name, _ in lines if name.lower() in one_value)
    details: list[Detail] = [
        {"field": one_value[name], "in": "header", "message": GIVEN_TWICE}
        for name, count in counts.items()
        if count > 1
    ]
    if details:
        raise validation_error(sorted(details, key=lambda detail: detail["field"]))


def joined_lists(lines: Lines, lists: frozenset[bytes]) -> Lines | None:
    """The lines with each list header's lines made one, where its first was; None when
    no list header has more than one line."""
    values: dict[bytes, list[bytes]] = {}
    for name, value in lines:
        if name.lower() in lists:
            values.setdefault(name.lower(), []).append(value)
    if all(len(found) < 2 for found in values.values()):
        return None
    result: Lines = []
    written: set[bytes] = set()
    for name, value in lines:
        key = name.lower()
        if key not in values:
            result.append((name, value))
        elif key not in written:
            written.add(key)
            result.append((key, b", ".join(values[key])))
    return result
