"""Serve the contract as written: `/api/openapi.yaml` is the file itself and
`/api/openapi.json` the same document as JSON, `$ref`s and schema names intact.

Connexion serves its resolved copy instead, every `$ref` inlined: valid, but 5 times
larger, and SDK generators then name models after paths instead of `User` or `Post`.
"""

from __future__ import annotations

import json

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.contract import Contract


class ContractFilesMiddleware:
    def __init__(self, app: ASGIApp, contract: Contract, yaml_text: str) -> None:
        self.app = app
        base = contract.base_path
        body = json.dumps(contract.document, separators=(",", ":"))
        self.files = {
            f"{base}/openapi.json": (body.encode(), "application/json"),
            f"{base}/openapi.yaml": (yaml_text.encode(), "application/yaml"),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.files.get(scope.get("path", "")) if scope["type"] == "http" else None
        if found is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        content, media_type = found
        await Response(content, media_type=media_type)(scope, receive, send)
