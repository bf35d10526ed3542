"""Which event types io-relay knows: the built-in models, and types operators add by
dropping a JSON Schema into a folder. Operator types reach the rules as plain data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from consumer.errors import ConfigurationError, DecodeError
from consumer.events.fiscal_code import FiscalCodePolicy
from consumer.events.schema_reasons import schema_reason
from consumer.events.types import BUILT_IN_TYPES, EventData

EVENT_TYPE_KEY = "x-event-type"
_SCHEMA_SUFFIXES = (".schema.json", ".json")

Data = EventData | dict[str, Any]


class EventTypes:
    def __init__(
        self,
        operator_schemas: Mapping[str, Mapping[str, Any]] | None = None,
        fiscal_codes: FiscalCodePolicy | None = None,
    ) -> None:
        self._validators = {
            name: Draft202012Validator(schema, format_checker=FormatChecker())
            for name, schema in (operator_schemas or {}).items()
        }
        self._fiscal_codes = fiscal_codes or FiscalCodePolicy()

    @classmethod
    def load(
        cls, folders: Iterable[Path], fiscal_codes: FiscalCodePolicy | None = None
    ) -> EventTypes:
        """Built-ins plus every schema file in `folders`; a bad file stops the start."""
        schemas: dict[str, Mapping[str, Any]] = {}
        for folder in folders:
            if not folder.is_dir():
                raise ConfigurationError(f"event schema folder {folder} does not exist")
            for path in sorted(folder.iterdir()):
                if path.name.endswith(_SCHEMA_SUFFIXES):
                    name, schema = _read_schema(path)
                    if name in BUILT_IN_TYPES or name in schemas:
                        raise ConfigurationError(f"{path}: event type {name!r} is defined twice")
                    schemas[name] = schema
        return cls(schemas, fiscal_codes)

    @property
    def fiscal_codes(self) -> FiscalCodePolicy:
        return self._fiscal_codes

    def known(self) -> list[str]:
        return sorted([*BUILT_IN_TYPES, *self._validators])

    def required_fields(self, event_type: str) -> frozenset[str]:
        """The data fields every event of the type carries."""
        model = BUILT_IN_TYPES.get(event_type)
        if model is not None:
            return frozenset(name for name, f in model.model_fields.items() if f.is_required())
        validator = self._validators.get(event_type)
        schema = validator.schema if validator is not None else {}
        required = schema.get("required", []) if isinstance(schema, Mapping) else []
        return frozenset(str(name) for name in required)

    def validate(self, event_type: str, data: object) -> Data:
        """The event's data, checked against its type; a DecodeError names the field."""
        model = BUILT_IN_TYPES.get(event_type)
        if model is not None:
            return self._built_in(model, data)
        validator = self._validators.get(event_type)
        if validator is None:
            names = ", ".join(self.known())
            raise DecodeError(f"unknown event type {event_type!r} (known: {names})", field="type")
        if not isinstance(data, dict):
            raise DecodeError("must be a JSON object", field="data")
        error = next(iter(sorted(validator.iter_errors(data), key=lambda e: e.path)), None)
        if error is not None:
            path = ".".join(str(part) for part in ("data", *error.absolute_path))
            raise DecodeError(schema_reason(error), field=path)
        return data

    def _built_in(self, model: type[EventData], data: object) -> EventData:
        if not isinstance(data, dict):
            raise DecodeError("must be a JSON object", field="data")
        try:
            return model.model_validate(data, context={"fiscal_codes": self._fiscal_codes})
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(part) for part in ("data", *first["loc"]))
            raise DecodeError(first["msg"], field=path) from None


def _read_schema(path: Path) -> tuple[str, Mapping[str, Any]]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: cannot read the event schema: {exc}") from None
    if not isinstance(schema, dict):
        raise ConfigurationError(f"{path}: an event schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigurationError(f"{path}: not a valid JSON Schema: {exc.message}") from None
    stem = path.name.removesuffix(".json").removesuffix(".schema")
    return str(schema.get(EVENT_TYPE_KEY, stem)), schema
