"""Why an event failed an operator's JSON Schema, in words that name and never quote.

jsonschema's own messages quote the instance ("'rssmra85t10a562s' does not match ..."), and
the instance is the citizen's data. A reason here is built from the failed keyword, the
schema's own values and field names only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema.exceptions import ValidationError

_Reason = Callable[[Any, Any, Mapping[str, Any]], str]


def schema_reason(error: ValidationError) -> str:
    """One sentence for the operator; the field path travels beside it."""
    if not isinstance(error.validator, str):  # the `false` schema
        return "is not allowed here"
    reason = _REASONS.get(error.validator)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if reason is None:
        return f"fails the schema's {error.validator!r} rule"
    return reason(error.validator_value, error.instance, schema)


def _type(expected: Any, _instance: Any, _schema: Mapping[str, Any]) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    return "must be " + " or ".join(f"{_ARTICLES.get(n, '')}{n}" for n in names)


_ARTICLES = {"object": "an ", "array": "an ", "integer": "an ", "string": "a ", "number": "a "}


def _required(names: Any, instance: Any, _schema: Mapping[str, Any]) -> str:
    missing = [n for n in names if isinstance(instance, Mapping) and n not in instance]
    return "missing field " + ", ".join(missing or names)


def _additional(_allowed: Any, instance: Any, schema: Mapping[str, Any]) -> str:
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extra = [
        str(name)
        for name in (instance if isinstance(instance, Mapping) else ())
        if name not in known and not any(re.search(p, str(name)) for p in patterns)
    ]
    return "unexpected field " + ", ".join(sorted(extra)) if extra else "has unexpected fields"


def _dependent(required: Any, instance: Any, _schema: Mapping[str, Any]) -> str:
    present = instance if isinstance(instance, Mapping) else {}
    for field, needs in required.items():
        missing = [n for n in needs if field in present and n not in present]
        if missing:
            return f"missing field {', '.join(missing)}, which {field} needs"
    return "misses a field another field needs"


def _fixed(text: str) -> _Reason:
    return lambda _value, _instance, _schema: text


def _bound(template: str) -> _Reason:
    return lambda value, _instance, _schema: template.format(value)


_REASONS: dict[str, _Reason] = {
    "type": _type,
    "required": _required,
    "additionalProperties": _additional,
    "dependentRequired": _dependent,
    "pattern": _fixed("does not match the pattern"),
    "format": _bound("is not a valid {}"),
    "enum": _fixed("is not one of the allowed values"),
    "const": _fixed("is not the required value"),
    "minLength": _bound("is shorter than {} characters"),
    "maxLength": _bound("is longer than {} characters"),
    "minimum": _bound("is less than {}"),
    "maximum": _bound("is greater than {}"),
    "exclusiveMinimum": _bound("must be greater than {}"),
    "exclusiveMaximum": _bound("must be less than {}"),
    "multipleOf": _bound("is not a multiple of {}"),
    "minItems": _bound("has fewer than {} items"),
    "maxItems": _bound("has more than {} items"),
    "uniqueItems": _fixed("has repeated items"),
    "contains": _fixed("has no item of the required shape"),
    "minContains": _bound("has fewer than {} items of the required shape"),
    "maxContains": _bound("has more than {} items of the required shape"),
    "minProperties": _bound("has fewer than {} fields"),
    "maxProperties": _bound("has more than {} fields"),
    "propertyNames": _fixed("has a field name the schema does not allow"),
    "unevaluatedProperties": _fixed("has fields the schema does not allow"),
    "unevaluatedItems": _fixed("has items the schema does not allow"),
    "anyOf": _fixed("matches none of the allowed shapes"),
    "oneOf": _fixed("does not match exactly one of the allowed shapes"),
    "not": _fixed("matches a shape the schema forbids"),
}
