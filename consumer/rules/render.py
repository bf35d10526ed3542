"""Render: a matched rule and an event → the exact NewMessage IO will receive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import TemplateError
from pydantic import BaseModel, ValidationError

from consumer.errors import RenderError
from consumer.events import Event, EventTypes, FiscalCodePolicy, InputRecord
from consumer.io.models import NewMessage
from consumer.rules.compiled import Rule
from consumer.rules.fields import FieldTemplate
from consumer.rules.model import DEFAULT_LANGUAGE

_INTEGER_FIELDS = frozenset({"payment_data.amount", "time_to_live"})
_BOOLEAN_FIELDS = frozenset({"payment_data.invalid_after_due_date", "require_secure_channels"})
_CONTENT_FIELDS = frozenset({"subject", "markdown", "due_date", "require_secure_channels"})


def template_context(event: Event) -> dict[str, Any]:
    # Absent optional fields stay undefined, so StrictUndefined catches every unguarded use:
    # a template must say what to print when upstream sent nothing, never "None".
    data = (
        event.data.model_dump(exclude_none=True)
        if isinstance(event.data, BaseModel)
        else event.data
    )
    envelope = {"id": event.id, "type": event.type, "source": event.source}
    return {"data": data, "event": {**envelope, "subject": event.subject, "time": event.time}}


def choose_language(rule: Rule, preferred: Sequence[str]) -> str:
    """The citizen's first preferred language the rule speaks, else the rule's default."""
    return next((language for language in preferred if language in rule.texts), DEFAULT_LANGUAGE)


def render_recipient(
    rule: Rule,
    event: Event,
    fiscal_codes: FiscalCodePolicy | None = None,
    context: dict[str, Any] | None = None,
) -> str:
    """`context`: the event's template context, when the caller has made it already."""
    context = context if context is not None else template_context(event)
    recipient = render_field(rule.recipient, context, rule.name, "recipient")
    try:
        return (fiscal_codes or FiscalCodePolicy()).check(recipient)
    except ValueError as exc:
        raise RenderError(str(exc), rule=rule.name, field="recipient") from None


def render(
    rule: Rule,
    event: Event,
    languages: Sequence[str] = (),
    fiscal_codes: FiscalCodePolicy | None = None,
) -> NewMessage:
    context = template_context(event)
    texts = rule.texts[choose_language(rule, languages)]
    values: dict[str, Any] = dict(rule.literals)
    values["recipient"] = render_recipient(rule, event, fiscal_codes, context)
    templates: dict[str, FieldTemplate] = {"subject": texts.subject, **rule.templates}
    markdown = render_field(texts.markdown, {**context, "link": rule.link}, rule.name, "markdown")
    if markdown:
        values["markdown"] = markdown
    for path, template in templates.items():
        text = render_field(template, context, rule.name, path)
        if text:
            values[path] = _coerce(path, text, rule.name)
    return _assemble(values, rule.name)


def example_event(rule: Rule, types: EventTypes, *, required_only: bool = False) -> Event:
    """The rule's own example, as the event it stands for; or with only the fields its type
    requires, the leanest event the rule may meet."""
    example = rule.spec.example
    if required_only:
        required = types.required_fields(rule.spec.event_type)
        example = {name: value for name, value in example.items() if name in required}
    data = types.validate(rule.spec.event_type, example)
    return Event(
        id=f"example-{rule.name}",
        type=rule.spec.event_type,
        source="urn:io-relay:rule-example",
        subject=None,
        time=None,
        data=data,
        input=InputRecord(topic="example", partition=0, offset=0, key=None, value=None),
    )


def render_field(template: FieldTemplate, context: dict[str, Any], rule: str, path: str) -> str:
    try:
        return template.render(context).strip()
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        # ArithmeticError: a date at the edge of the calendar overflows on a change of zone.
        raise RenderError(str(exc), rule=rule, field=path) from None


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
    body: dict[str, Any] = {"fiscal_code": values["recipient"], "content": content}
    for name in ("feature_level_type", "time_to_live"):
        if name in values:
            body[name] = str(values[name]) if name == "feature_level_type" else values[name]
    try:
        return NewMessage.model_validate(body, strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise RenderError(first["msg"], rule=rule, field=field) from None
