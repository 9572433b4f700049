"""The contract, loaded once, and the facts the layers read from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).resolve().parent.parent / "openapi"
SPEC_FILE = "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Contract:
    document: dict[str, Any]
    text: str = ""

    @classmethod
    def load(cls, path: Path = SPEC_DIR / SPEC_FILE) -> Contract:
        text = path.read_text(encoding="utf-8")
        return cls(yaml.safe_load(text), text)

    @property
    def base_path(self) -> str:
        url: str = self.document["servers"][0]["url"]
        return url.rstrip("/")

    @cached_property
    def _path_patterns(self) -> list[tuple[re.Pattern[str], list[str]]]:
        patterns = []
        for template, item in self.document["paths"].items():
            regex = re.sub(r"\\{[^/}]+\\}", "[^/]+", re.escape(self.base_path + template))
            methods = [method.upper() for method in HTTP_METHODS if method in item]
            patterns.append((re.compile(regex), methods))
        return patterns

    @cached_property
    def operations(self) -> dict[str, dict[str, Any]]:
        """Every operation of the document by its operationId."""
        found = {}
        for item in self.document["paths"].values():
            for method in HTTP_METHODS:
                if method in item:
                    found[item[method]["operationId"]] = item[method]
        return found

    def routed_name(self, operation_id: str) -> str:
        """The operation as Connexion names a routed request's: by the function it
        resolved to (`handlers.users.create_user`); every layer keys operations so."""
        controller: str = self.operations[operation_id]["x-openapi-router-controller"]
        return f"{controller}.{operation_id}"

    def path_item_of(self, operation_id: str) -> dict[str, Any]:
        """The path item that holds the operation (its shared parameters live there)."""
        for item in self.document["paths"].values():
            if any(
                item.get(method, {}).get("operationId") == operation_id for method in HTTP_METHODS
            ):
                found: dict[str, Any] = item
                return found
        raise KeyError(operation_id)

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow local `$ref`s to the node they name."""
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def parameters_of(self, operation_id: str) -> list[dict[str, Any]]:
        """The operation's parameters, resolved: its path item's, overridden by its own
        of the same name and location."""
        declared = [
            *self.path_item_of(operation_id).get("parameters", []),
            *self.operations[operation_id].get("parameters", []),
        ]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for parameter in map(self.resolve, declared):
            found[(parameter["in"], parameter["name"].lower())] = parameter
        return list(found.values())

    def body_default(self, operation_id: str, field: str) -> Any:
        """The `default` of a field of the operation's JSON body, or None."""
        body = self.operations[operation_id].get("requestBody", {})
        for media in body.get("content", {}).values():
            schema = self.resolve(media.get("schema", {}))
            prop = schema.get("properties", {}).get(field)
            if prop is not None:
                return prop.get("default", self.resolve(prop).get("default"))
        return None

    def query_default(self, operation_id: str, name: str) -> str:
        """A query parameter's default as it would be written in a URL (`false`, `20`)."""
        for declared in self.operations[operation_id].get("parameters", []):
            parameter = self.resolve(declared)
            if parameter["in"] == "query" and parameter["name"] == name:
                default = self.resolve(parameter.get("schema", {})).get("default")
                return str(default).lower() if default is not None else ""
        raise KeyError(f"{operation_id} has no query parameter {name!r}")

    def allowed_methods(self, path: str) -> list[str] | None:
        """The methods the spec declares for a concrete request path, or None if unknown."""
        for pattern, methods in self._path_patterns:
            if pattern.fullmatch(path):
                return methods
        return None
