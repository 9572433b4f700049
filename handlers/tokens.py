"""Handlers of the `tokens` tag: log in and log out."""

from __future__ import annotations

import uuid
from typing import Any

from connexion import request

from models import token as tokens
from models import user as users
from service.access import authentication as auth
from service.runtime import database

CURRENT = "/api/tokens/current"


def create_token(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    record_failure = auth.guard_login(request, body["email"])
    with database().session() as session:
        user = users.find_by_email(session, body["email"])
        issued = auth.log_in(session, user, body["password"], record_failure)
    return {"data": issued}, 201, {"Location": CURRENT}


def revoke_token(token_info: dict[str, Any]) -> tuple[None, int]:
    with database().session() as session:
        tokens.revoke(session, uuid.UUID(token_info["token_id"]))
    return None, 204
