"""Field templates: the direct forms render exactly what Jinja renders, errors included."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from jinja2 import Template, UndefinedError

from consumer.rules.environment import build_environments
from consumer.rules.fields import Constant, DataValue, DirectOutput, compile_field

ENVS = build_environments()
CONTEXT: dict[str, Any] = {
    "data": {
        "amount_cents": 18750,
        "notice_number": "302100000000123456",
        "invalid_after_due_date": True,
        "due_date": date(2027, 3, 31),
        "items": "shadowed by dict.items",
    }
}


@pytest.mark.parametrize(
    ("source", "form"),
    [
        ("Avviso di pagamento TARI", Constant),
        ("ADVANCED\n", Constant),
        ("{{ data.amount_cents }}", DataValue),
        ("{{data.notice_number}}", DataValue),
        ("{{ data.invalid_after_due_date }}", DataValue),
        ("{{ data.due_date }}", DataValue),
        ("{{ data.items }}", DirectOutput),  # Jinja finds dict.items first, and so does this
        ("{{ data.amount_cents | euro }}", DirectOutput),
        ("{{ data.amount_cents }} €", DirectOutput),
        ("{# a comment #}Avviso", DirectOutput),
        ("{{ '{{' }}", DirectOutput),
        ("{{ data.due_date | io_due_date if data.due_date is defined else '' }}", DirectOutput),
        ("{{ data.missing | io_due_date if data.missing is defined else '' }}", DirectOutput),
        ("{{ data.payee_fiscal_code | default('') }}", DirectOutput),
        ("Avviso {{ data.notice_number }} del {{ data.due_date | italian_date }}.", DirectOutput),
        ("{% if data.due_date %}{{ data.due_date }}{% endif %}", Template),
        ("{{ data.amount_cents + 1 }}", Template),
    ],
)
def test_each_field_gets_the_form_that_renders_as_jinja_does(source: str, form: type) -> None:
    compiled = compile_field(ENVS.text, source)

    assert isinstance(compiled, form)
    assert compiled.render(CONTEXT) == ENVS.text.from_string(source).render(CONTEXT)


def test_a_value_in_markdown_is_left_to_jinja_which_escapes_it() -> None:
    compiled = compile_field(ENVS.markdown, "{{ data.notice_number }}", values_escaped=True)

    assert isinstance(compiled, Template)


def _outcome(render: Any, context: dict[str, Any]) -> tuple[str, str]:
    try:
        return "text", render(context)
    except Exception as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("data", [{}, ["a list"], "text", {"notice_number": "3021"}])
@pytest.mark.parametrize(
    "source",
    [
        "{{ data.notice_number | default('x') | euro }}",
        "N. {{ data.get('notice_number') | int }}",
        "{{ data.notice_number | italian_date }}",
        "{{ data.notice_number if data.notice_number is defined else '-' }}",
    ],
)
def test_a_direct_form_fails_as_jinja_fails(data: object, source: str) -> None:
    compiled = compile_field(ENVS.text, source)

    assert isinstance(compiled, DirectOutput)
    jinja = ENVS.text.from_string(source).render
    assert _outcome(compiled.render, {"data": data}) == _outcome(jinja, {"data": data})


@pytest.mark.parametrize("data", [{}, ["a list"], "text"])
def test_a_missing_value_fails_with_jinjas_own_words(data: object) -> None:
    source = "{{ data.notice_number }}"
    with pytest.raises(UndefinedError) as jinja:
        ENVS.text.from_string(source).render({"data": data})
    with pytest.raises(UndefinedError) as direct:
        compile_field(ENVS.text, source).render({"data": data})

    assert str(direct.value) == str(jinja.value)
