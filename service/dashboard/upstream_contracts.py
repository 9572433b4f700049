"""The upstream contracts (openapi/upstreams/*.yaml): what each 200 body must be.

An answer that breaks its contract is a failure of that source (`UPSTREAM_ERROR`) and
is never passed on: the dashboard's own contract is only as good as what it is built from.
Bodies are validated as Connexion validates this service's responses (Draft 4 with
OpenAPI's `nullable`, and the same formats), so what passes here passes there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from service.contract import HTTP_METHODS, SPEC_DIR
from service.patches.connexion_internals import response_validator

UPSTREAMS_DIR = SPEC_DIR / "upstreams"


@dataclass(frozen=True)
class UpstreamContract:
    """One upstream's document, and a validator of one operation's 200 body."""

    path: Path
    document: dict[str, Any] = field(hash=False, compare=False)

    @classmethod
    def load(cls, name: str) -> UpstreamContract:
        path = UPSTREAMS_DIR / f"{name}.yaml"
        return cls(path, yaml.safe_load(path.read_text(encoding="utf-8")))

    def operation(self, operation_id: str) -> tuple[str, dict[str, Any]]:
        """The path template and the operation with this id."""
        for template, item in self.document["paths"].items():
            for method in HTTP_METHODS:
                if item.get(method, {}).get("operationId") == operation_id:
                    return template, item[method]
        raise KeyError(f"{self.path.name} has no operation {operation_id!r}")

    @cached_property
    def _validators(self) -> dict[str, Any]:
        found = {}
        for template, item in self.document["paths"].items():
            del template
            for method in HTTP_METHODS:
                if method in item:
                    operation = item[method]
                    schema = operation["responses"]["200"]["content"]["application/json"]
                    # The document's components go along, so its $refs resolve.
                    root = {**schema["schema"], "components": self.document["components"]}
                    found[operation["operationId"]] = response_validator(root)
        return found

    def conforms(self, operation_id: str, body: Any) -> bool:
        """Whether `body` is a 200 body this operation may answer."""
        return bool(self._validators[operation_id].is_valid(body))
