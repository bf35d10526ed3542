"""The JSON Schemas of io-relay's contracts, generated from the models that enforce them.

`io-relay schemas --write schemas/` refreshes the files upstream teams read; a test fails
when the files and the models drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from consumer.events.envelope import Envelope
from consumer.events.types import BUILT_IN_TYPES
from consumer.report import StatusRecord
from consumer.track import TrackingRecord

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def contract_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every contract io-relay publishes."""
    schemas = {
        "cloudevent.schema.json": _schema(Envelope, "A CloudEvents 1.0 envelope io-relay reads"),
        "status-record.schema.json": _schema(
            StatusRecord,
            "A status record: one per (event, rule) at stage DELIVERY, then one per change of "
            "a submitted message's lifecycle (PROCESSING, READING, PAYMENT)",
        ),
        "tracking-record.schema.json": _schema(
            TrackingRecord, "A message under tracking, on the tracking topic (key: IO message id)"
        ),
    }
    for event_type, model in BUILT_IN_TYPES.items():
        schemas[f"events/{event_type}.schema.json"] = _schema(
            model, f"The data of a {event_type} event"
        )
    return schemas


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    written = []
    for name, schema in contract_schemas().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(folder: Path) -> list[str]:
    """Files that are missing or differ from what the models generate."""
    return [
        name
        for name, schema in contract_schemas().items()
        if not (folder / name).is_file()
        or (folder / name).read_text(encoding="utf-8") != render_schema(schema)
    ]


def _schema(model: type[BaseModel], description: str) -> dict[str, Any]:
    generated = model.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, **generated, "description": description}
