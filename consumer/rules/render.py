"""Render: a matched rule and an event → the exact NewMessage IO will receive."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from pydantic import ValidationError

from consumer.errors import RenderError
from consumer.events import Event
from consumer.io.models import NewMessage
from consumer.rules.loader import Rule

_INTEGER_FIELDS = frozenset({"payment_data.amount", "time_to_live"})
_BOOLEAN_FIELDS = frozenset({"payment_data.invalid_after_due_date", "require_secure_channels"})
_CONTENT_FIELDS = frozenset({"subject", "markdown", "due_date", "require_secure_channels"})


def template_context(event: Event) -> dict[str, Any]:
    return {
        "data": event.data.model_dump(),
        "event": {
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "time": event.time,
        },
    }


def render(rule: Rule, event: Event) -> NewMessage:
    context = template_context(event)
    values: dict[str, Any] = dict(rule.literals)
    for path, template in rule.templates.items():
        try:
            text = template.render(context).strip()
        except TemplateError as exc:
            raise RenderError(str(exc), rule=rule.name, field=path) from None
        if text:
            values[path] = _coerce(path, text, rule.name)
    return _assemble(values, rule.name)


def _coerce(path: str, text: str, rule: str) -> Any:
    if path in _INTEGER_FIELDS:
        try:
            return int(text)
        except ValueError:
            raise RenderError(f"rendered {text!r}, not an integer", rule=rule, field=path) from None
    if path in _BOOLEAN_FIELDS:
        if text.lower() not in {"true", "false"}:
            raise RenderError(f"rendered {text!r}, not true/false", rule=rule, field=path)
        return text.lower() == "true"
    return text


def _assemble(values: dict[str, Any], rule: str) -> NewMessage:
    content: dict[str, Any] = {k: v for k, v in values.items() if k in _CONTENT_FIELDS}
    payment = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("payment_data.")}
    if payment:
        payee = payment.pop("payee_fiscal_code", None)
        if payee:
            payment["payee"] = {"fiscal_code": payee}
        content["payment_data"] = payment
    body: dict[str, Any] = {"fiscal_code": values.get("recipient"), "content": content}
    for name in ("feature_level_type", "time_to_live"):
        if name in values:
            body[name] = str(values[name]) if name == "feature_level_type" else values[name]
    try:
        return NewMessage.model_validate(body, strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise RenderError(first["msg"], rule=rule, field=field) from None
