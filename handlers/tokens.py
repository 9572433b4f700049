"""Handlers of the `tokens` tag: log in and log out."""

from __future__ import annotations

from typing import Any

from models import token as tokens
from service.access.caller import current_caller
from service.access.credentials import log_in
from service.edge.scope import current
from service.runtime import database

CURRENT = "/api/tokens/current"


def create_token(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    with database().session() as session:
        issued = log_in(current(), session, body["email"], body["password"])
    return {"data": issued}, 201, {"Location": CURRENT}


def revoke_token() -> tuple[None, int]:
    caller = current_caller()
    assert caller is not None  # the operation requires a token
    with database().session() as session:
        tokens.revoke(session, caller.token_id)
    return None, 204
