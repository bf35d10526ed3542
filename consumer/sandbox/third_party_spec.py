"""The sender's API as IO's backend reads it: api-third-party.yaml (OpenAPI 3.0.1).

The spec is a copy outside the repository (`SandboxSettings.io_api_dir`); it is read when
first needed, so a sandbox without it still serves everything but the open replay.
`components/schemas` refs resolve inside the spec; OpenAPI's `nullable: true` becomes
JSON Schema's `"null"` type; the rest is read as Draft 4 (`exclusiveMaximum: true`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

THIRD_PARTY_SPEC = Path("io-backend/openapi/consumed/api-third-party.yaml")
_SPEC_URI = "urn:io-relay:api-third-party"


class SpecUnavailable(Exception):
    """The spec file is absent or unreadable; the message names the path."""


def schema_validator(io_api_dir: Path | None, schema: str) -> Validator:
    """A validator of `#/components/schemas/<schema>`; raises SpecUnavailable."""
    if io_api_dir is None:
        raise SpecUnavailable("no io_api_dir is set, so api-third-party.yaml cannot be read")
    path = io_api_dir / THIRD_PARTY_SPEC
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecUnavailable(f"cannot read IO's third-party spec at {path}: {exc}") from None
    if not isinstance(spec, dict) or schema not in spec.get("components", {}).get("schemas", {}):
        raise SpecUnavailable(f"{path} has no components/schemas/{schema}")
    resource = Resource.from_contents(_json_schema(spec), default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    root = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema}"}
    validator: Validator = Draft4Validator(root, registry=registry)
    return validator


def problems_of(validator: Validator, instance: Any) -> list[str]:
    """Each schema error as `attachments.0.url: 'url' is a required property`, in order."""
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
    return [f"{_where(list(error.path))}: {error.message}" for error in errors]


def _where(path: list[Any]) -> str:
    return ".".join(str(part) for part in path) or "(body)"


def _json_schema(node: Any) -> Any:
    """The spec with `nullable: true` read as JSON Schema would need it."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        kind = converted.get("type")
        if isinstance(kind, str):
            converted["type"] = [kind, "null"]
        elif "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted
