import json
from pathlib import Path

import pytest

from consumer.errors import RenderError
from consumer.events import Event, InputRecord, decode
from consumer.rules import Rule, RulesError, load_rules, render, route
from consumer.rules.environment import euro

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def notice(**data: object) -> Event:
    payload = {
        "recipient_fiscal_code": "AAAAAA00A00A000A",
        "notice_number": "302100000000123456",
        "amount_cents": 18750,
        "description": "TARI 2026",
        "category": "TARI",
        **data,
    }
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": "payment_notice.issued",
        "data": payload,
    }
    return decode(InputRecord("in", 0, 0, None, json.dumps(event).encode()))


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def one_rule(tmp_path: Path, name: str, subject: str, markdown: str) -> Rule:
    """A payment-notice rule with the given templates, loaded as operators' files are."""
    text = f"""
rules:
  - name: {name}
    event_type: payment_notice.issued
    service: s
    message:
      subject: {json.dumps(subject)}
      markdown: {json.dumps(markdown)}
"""
    [rule] = load_rules([write_rules(tmp_path, text)])
    return rule


def test_example_tari_rule_renders_the_exact_io_payload() -> None:
    rules = load_rules([EXAMPLES / "rules"])
    event = notice(payee_fiscal_code="01199250158")

    [rule] = route(rules, event)
    body = render(rule, event).to_json_body()

    assert rule.name == "tari-notice"
    assert rule.service == "tari"
    assert body["fiscal_code"] == "AAAAAA00A00A000A"
    assert body["content"]["subject"] == "Avviso di pagamento TARI"
    assert "187,50\xa0€" in body["content"]["markdown"]
    assert body["content"]["payment_data"] == {
        "amount": 18750,
        "notice_number": "302100000000123456",
        "invalid_after_due_date": False,
        "payee": {"fiscal_code": "01199250158"},
    }


def test_condition_selects_between_rules_of_one_type() -> None:
    rules = load_rules([EXAMPLES / "rules"])

    assert [r.name for r in route(rules, notice(category="TARI"))] == ["tari-notice"]
    assert [r.name for r in route(rules, notice(category="COSAP"))] == ["generic-notice"]


def test_payee_left_out_when_the_event_has_none() -> None:
    rules = load_rules([EXAMPLES / "rules"])
    event = notice()

    [rule] = route(rules, event)
    payment = render(rule, event).to_json_body()["content"]["payment_data"]

    assert "payee" not in payment


def test_misspelt_field_fails_instead_of_rendering_empty(tmp_path: Path) -> None:
    rule = one_rule(
        tmp_path,
        "typo",
        "Avviso di pagamento",
        "{{ data.amount_centz }} and enough text to pass the eighty characters of IO.",
    )

    with pytest.raises(RenderError) as caught:
        render(rule, notice())

    assert caught.value.rule == "typo"
    assert caught.value.field == "markdown"
    assert "amount_centz" in caught.value.reason


def test_rendering_that_breaks_io_constraints_is_a_render_error(tmp_path: Path) -> None:
    rule = one_rule(
        tmp_path,
        "short",
        "Short",
        "Too short for IO.",
    )

    with pytest.raises(RenderError) as caught:
        render(rule, notice())

    assert caught.value.field == "content.subject"


def test_templates_cannot_reach_python_internals(tmp_path: Path) -> None:
    rule = one_rule(
        tmp_path,
        "escape",
        "{{ data.__class__.__mro__[1].__subclasses__() }}",
        "x",
    )

    with pytest.raises(RenderError):
        render(rule, notice())


def test_bad_rules_file_lists_every_problem_with_file_and_rule(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
rules:
  - name: no-service
    event_type: payment_notice.issued
    message: {subject: "a subject here", markdown: "m"}
  - name: bad-template
    event_type: document.ready
    service: s
    message: {subject: "{{ data.title ", markdown: "m"}
""",
    )

    with pytest.raises(RulesError) as caught:
        load_rules([path])

    problems = caught.value.problems
    assert len(problems) == 1
    assert str(path) in problems[0]
    assert "rule 'no-service', service" in problems[0]


def test_template_syntax_error_names_the_rule(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
rules:
  - name: bad-template
    event_type: document.ready
    service: s
    message: {subject: "{{ data.title ", markdown: "m"}
""",
    )

    with pytest.raises(RulesError, match="rule 'bad-template': template syntax"):
        load_rules([path])


def test_euro_uses_italian_format() -> None:
    assert euro(1234567) == "12.345,67\xa0€"
    assert euro(5) == "0,05\xa0€"
