from pathlib import Path

import pytest

from consumer.errors import RenderError
from consumer.events import FiscalCodePolicy
from consumer.rules import choose_language, load_rules, render, route
from tests.unit.rules.conftest import EXAMPLES, MARKDOWN, RuleWriter, notice


def test_example_tari_rule_renders_the_exact_io_payload() -> None:
    rules = load_rules([EXAMPLES / "rules"])
    event = notice(payee_fiscal_code="01199250158", due_date="2027-03-31")

    [rule] = route(rules, event)
    body = render(rule, event).to_json_body()

    assert (rule.name, rule.service) == ("tari-notice", "tari")
    assert body["fiscal_code"] == "AAAAAA00A00A000A"
    assert body["time_to_live"] == 604800
    content = body["content"]
    assert content["subject"] == "Avviso di pagamento TARI"
    assert "- Importo: 187,50\xa0€" in content["markdown"]
    assert "- Scadenza: 31 marzo 2027" in content["markdown"]
    assert content["due_date"] == "2027-03-31T21:59:59.000Z"  # 23:59:59 in Rome, summer time
    assert content["payment_data"] == {
        "amount": 18750,
        "notice_number": "302100000000123456",
        "invalid_after_due_date": False,
        "payee": {"fiscal_code": "01199250158"},
    }


def test_condition_selects_between_rules_of_one_type() -> None:
    rules = load_rules([EXAMPLES / "rules"])

    assert [r.name for r in route(rules, notice(category="TARI"))] == ["tari-notice"]
    assert [r.name for r in route(rules, notice(category="COSAP"))] == ["generic-notice"]


def test_fan_out_gives_one_message_per_matching_rule(tmp_path: Path, rule_file: RuleWriter) -> None:
    first = rule_file(name="first")
    second = first.rename(tmp_path / "first.yaml").parent / "second.yaml"
    second.write_text(rule_file(name="second").read_text())

    rules = load_rules([tmp_path / "first.yaml", second])

    assert [r.name for r in route(rules, notice())] == ["first", "second"]


def test_optional_fields_rendered_empty_are_left_out() -> None:
    rules = load_rules([EXAMPLES / "rules"])
    event = notice()  # no payee, no due date

    [rule] = route(rules, event)
    content = render(rule, event).to_json_body()["content"]

    assert "payee" not in content["payment_data"]
    assert "due_date" not in content


def test_event_values_are_escaped_in_markdown_not_in_subject() -> None:
    rules = load_rules([EXAMPLES / "rules"])
    event = notice(description="[paga qui](http://x)")

    [rule] = route(rules, event)
    markdown = render(rule, event).to_json_body()["content"]["markdown"]

    assert "[paga qui](http://x)" not in markdown
    assert r"\[paga qui\]\(http\://x\)" in markdown


def test_preferred_language_picks_a_translation_with_fallback() -> None:
    rules = load_rules([EXAMPLES / "rules"])
    [generic] = route(rules, notice(category="COSAP"))

    assert choose_language(generic, ["de_DE", "it_IT"]) == "de_DE"
    assert choose_language(generic, ["fr_FR", "en_GB"]) == "it_IT"
    assert choose_language(generic, []) == "it_IT"
    german = render(generic, notice(category="COSAP"), ["fr_FR", "de_DE"])
    assert german.content.subject == "Neue Zahlungsaufforderung"


def test_a_value_that_breaks_io_constraints_is_a_render_error(rule_file: RuleWriter) -> None:
    [rule] = load_rules(
        [rule_file(message={"subject": "Avviso: {{ data.description }}", "markdown": MARKDOWN})]
    )

    with pytest.raises(RenderError) as caught:
        render(rule, notice(description="x" * 200))

    assert caught.value.rule == "notice"
    assert caught.value.field == "content.subject"
    assert "must be 10 to 120 characters long" in caught.value.reason


def test_strict_fiscal_codes_refuse_a_wrong_check_character(rule_file: RuleWriter) -> None:
    [rule] = load_rules([rule_file()])
    strict = FiscalCodePolicy(strict=True)

    with pytest.raises(RenderError) as caught:
        render(rule, notice(), (), strict)

    assert caught.value.field == "recipient"
    allowed = FiscalCodePolicy(strict=True, allow=frozenset({"AAAAAA00A00A000A"}))
    assert render(rule, notice(), (), allowed).fiscal_code == "AAAAAA00A00A000A"
