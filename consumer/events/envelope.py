"""CloudEvents 1.0 over Kafka, in structured mode (the value is the whole event) and binary
mode (attributes in `ce_*` headers, the value is the data)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consumer.errors import DecodeError
from consumer.events.input import InputRecord

_BINARY_PREFIX = "ce_"
_NonEmpty = Annotated[str, Field(min_length=1)]


class Envelope(BaseModel):
    """The CloudEvents attributes io-relay reads; extension attributes are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Annotated[str, Field(pattern=r"^1\.0$")]
    id: _NonEmpty
    source: _NonEmpty
    type: _NonEmpty
    time: datetime | None = None
    subject: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None


def read_envelope(record: InputRecord) -> Envelope:
    """Parse the envelope of a record in whichever mode it came."""
    if record.header(_BINARY_PREFIX + "specversion") is not None:
        attributes = _binary_attributes(record)
        attributes["data"] = _json(record.value, what="value (binary-mode data)")
    else:
        parsed = _json(record.value, what="value")
        if not isinstance(parsed, dict):
            raise DecodeError("a structured CloudEvent must be a JSON object", field="value")
        attributes = parsed
    try:
        envelope = Envelope.model_validate(attributes)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "envelope"
        raise DecodeError(first["msg"], field=field) from None
    content_type = envelope.datacontenttype
    if content_type is not None and "json" not in content_type.lower():
        reason = f"is {content_type!r}; io-relay reads JSON data only"
        raise DecodeError(reason, field="datacontenttype")
    return envelope


def _binary_attributes(record: InputRecord) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, raw in record.headers:
        if not name.startswith(_BINARY_PREFIX):
            continue
        try:
            attributes[name.removeprefix(_BINARY_PREFIX)] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("header is not valid UTF-8", field=f"header {name}") from None
    content_type = record.header("content-type")
    if content_type is not None and "datacontenttype" not in attributes:
        attributes["datacontenttype"] = content_type.decode("utf-8", errors="replace")
    return attributes


def _json(raw: bytes | None, *, what: str) -> Any:
    if raw is None:
        raise DecodeError("is empty (a tombstone?)", field=what)
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise DecodeError("is not UTF-8 text", field=what) from None
    except json.JSONDecodeError as exc:
        raise DecodeError(f"is not JSON: {exc.msg} (char {exc.pos})", field=what) from None
    except ValueError as exc:  # e.g. an integer literal of thousands of digits
        raise DecodeError(f"is JSON Python cannot hold: {exc}", field=what) from None
    except RecursionError:
        raise DecodeError("is JSON nested too deeply", field=what) from None
