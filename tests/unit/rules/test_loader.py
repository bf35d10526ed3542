"""Load-time refusals: every problem listed, each with its file, line and rule."""

from pathlib import Path

import pytest

from consumer.rules import RuleChecks, RulesError, load_rules
from tests.unit.rules.conftest import EXAMPLES, MARKDOWN, NOTICE_DATA, RuleWriter


def problems_of(*paths: Path, checks: RuleChecks | None = None) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(paths, checks=checks)
    return caught.value.problems


def test_example_rules_load() -> None:
    names = [rule.name for rule in load_rules([EXAMPLES / "rules"])]

    assert sorted(names) == ["document-ready", "generic-notice", "tari-notice"]


def test_schema_errors_name_file_line_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "rules:\n"
        "  - name: ok-rule\n"
        "    event_type: payment_notice.issued\n"
        "    service: s\n"
        "    message: {subject: 'Avviso di pagamento', markdown: 'm'}\n"
        "  - name: no-service\n"
        "    event_type: payment_notice.issued\n"
        "    message: {subject: 'Avviso di pagamento', markdown: 'm'}\n"
        "    example: {}\n"
        "    colour: blue\n"
    )

    found = problems_of(path)

    assert f"{path}:2: rule 'ok-rule', example: Field required" in found
    assert f"{path}:6: rule 'no-service', service: Field required" in found
    assert f"{path}:10: rule 'no-service', colour: Extra inputs are not permitted" in found


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("rules:\n  - name: x\n    when: [unclosed\n")

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:4: not valid YAML")


def test_template_syntax_error_names_rule_and_template_line(rule_file: RuleWriter) -> None:
    path = rule_file(message={"subject": "Avviso di pagamento", "markdown": "a\n{{ data.x "})

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:2: rule 'notice': template syntax, line 2:")


def test_unknown_event_type_is_refused(rule_file: RuleWriter) -> None:
    [problem] = problems_of(rule_file(event_type="parking.fine"))

    assert "unknown event_type 'parking.fine'" in problem


@pytest.mark.parametrize(
    "subject",
    [
        "Avviso per {{ data.recipient_fiscal_code }}",
        "Avviso di {{ data.amount_cents | euro }}",
        "Avviso per {{ data['recipient_fiscal_code'] }}",
        "Avviso: {{ data }}",
    ],
)
def test_subject_with_personal_data_is_refused(rule_file: RuleWriter, subject: str) -> None:
    found = problems_of(rule_file(message={"subject": subject, "markdown": MARKDOWN}))

    assert any("the subject shows personal data" in problem for problem in found)


def test_personal_data_list_is_configurable(rule_file: RuleWriter) -> None:
    subject = "Avviso {{ data.category | default('TARI') }}"
    path = rule_file(message={"subject": subject, "markdown": MARKDOWN})

    assert load_rules([path])  # category is not personal by default
    [problem] = problems_of(path, checks=RuleChecks(frozenset({"category"})))
    assert "(category)" in problem


def test_personal_data_in_a_translated_subject_is_refused(rule_file: RuleWriter) -> None:
    translations = {
        "de_DE": {"subject": "Für {{ data.recipient_fiscal_code }}", "markdown": MARKDOWN}
    }

    [problem] = problems_of(rule_file(translations=translations))

    assert "the subject shows personal data (recipient_fiscal_code)" in problem


def test_rule_whose_example_breaks_io_constraints_is_refused(rule_file: RuleWriter) -> None:
    [problem] = problems_of(rule_file(message={"subject": "Short", "markdown": MARKDOWN}))

    assert "its example does not render: content.subject: must be 10 to 120" in problem


def test_misspelt_field_is_refused_at_load(rule_file: RuleWriter) -> None:
    markdown = MARKDOWN + " {{ data.amount_centz }}"

    [problem] = problems_of(
        rule_file(message={"subject": "Avviso di pagamento", "markdown": markdown})
    )

    assert "amount_centz" in problem


def test_unguarded_optional_field_is_refused_at_load(rule_file: RuleWriter) -> None:
    markdown = MARKDOWN + " Ente: {{ data.payee_name }}"
    path = rule_file(
        message={"subject": "Avviso di pagamento", "markdown": markdown},
        example={**NOTICE_DATA, "payee_name": "Comune di Demo"},
    )

    [problem] = problems_of(path)

    assert "fails on an event without the optional fields" in problem
    assert "payee_name" in problem


def test_example_that_misses_its_own_condition_is_refused(rule_file: RuleWriter) -> None:
    [problem] = problems_of(rule_file(when="data.get('category') == 'IMU'"))

    assert "its example does not match its own `when`" in problem


def test_every_translation_is_rendered_at_load(rule_file: RuleWriter) -> None:
    translations = {"en_GB": {"subject": "Payment notice", "markdown": "too short"}}

    [problem] = problems_of(rule_file(translations=translations))

    assert "content.markdown: must be 80 to 10000 characters long" in problem


def test_unknown_language_is_refused(rule_file: RuleWriter) -> None:
    translations = {"klingon": {"subject": "Payment notice", "markdown": MARKDOWN}}

    [problem] = problems_of(rule_file(translations=translations))

    assert "translations.klingon" in problem


def test_duplicate_rule_names_and_missing_paths_are_listed(
    tmp_path: Path, rule_file: RuleWriter
) -> None:
    first = rule_file()
    copy = tmp_path / "copy.yaml"
    copy.write_text(first.read_text())

    found = problems_of(first, copy, tmp_path / "missing.yaml")

    assert "rule name 'notice' is used more than once" in found
    assert f"{tmp_path / 'missing.yaml'}: no such file or folder" in found
