"""A rule's Premium content: refused at load when IO or the configuration could not serve it,
rendered per event into attachments and remote content, or a RenderError (the DLQ)."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.content.settings import DocumentSource
from consumer.content.sources import document_url
from consumer.errors import RenderError
from consumer.rules import RuleChecks, RulesError, load_rules, render
from consumer.rules.content import ContentChecks, render_content
from tests.unit.rules.conftest import NOTICE_DATA, RuleWriter, notice

SOURCE = DocumentSource(
    base_url="https://docs.comune.example/api/", allowed_hosts=["docs.comune.example"]
)
READY = ContentChecks(
    enabled=True, sources={"docs": SOURCE}, configured_services=frozenset({"tributi"})
)
ATTACHMENT = {
    "id": "{{ data.notice_number }}",
    "name": "Avviso {{ data.notice_number }}.pdf",
    "source": "docs",
    "path": "avvisi/{{ data.notice_number }}.pdf",
}
ADVANCED = {
    "subject": "Avviso di pagamento",
    "markdown": "Gentile contribuente, è disponibile un avviso di pagamento del Comune di Demo. "
    "Lo trovi allegato.",
    "feature_level_type": "ADVANCED",
}


def problems(rule_file: RuleWriter, checks: ContentChecks, **parts: Any) -> list[str]:
    try:
        load_rules([rule_file(**parts)], checks=RuleChecks(content=checks))
    except RulesError as error:
        return error.problems
    return []


def test_a_rule_with_attachments_loads_when_everything_is_there(rule_file: RuleWriter) -> None:
    [rule] = load_rules(
        [rule_file(message=ADVANCED, attachments=[ATTACHMENT])],
        checks=RuleChecks(content=READY),
    )

    assert rule.premium
    assert len(rule.attachments) == 1


@pytest.mark.parametrize(
    ("checks", "message", "reason"),
    [
        (ContentChecks(), ADVANCED, "content.sealing_keys is empty"),
        (
            ContentChecks(enabled=True, sources={"docs": SOURCE}),
            ADVANCED,
            "io.services.tributi has no configuration_id",
        ),
        (READY, {**ADVANCED, "feature_level_type": "STANDARD"}, "must be ADVANCED"),
        (
            ContentChecks(enabled=True, configured_services=frozenset({"tributi"})),
            ADVANCED,
            "source 'docs' is not under content.document_sources",
        ),
    ],
    ids=["no keys", "no configuration", "not advanced", "unknown source"],
)
def test_rules_check_refuses_content_that_could_not_be_served(
    rule_file: RuleWriter, checks: ContentChecks, message: dict[str, Any], reason: str
) -> None:
    found = problems(rule_file, checks, message=message, attachments=[ATTACHMENT])

    [named] = [problem for problem in found if reason in problem]
    assert "rules.yaml:2: rule 'notice'" in named


def test_remote_content_alone_needs_no_advanced_but_a_configuration(
    rule_file: RuleWriter,
) -> None:
    remote = {"subject": "Il tuo avviso", "markdown": "Importo: {{ data.amount_cents | euro }}"}

    assert problems(rule_file, READY, remote_content=remote) == []
    [found] = problems(rule_file, ContentChecks(enabled=True), remote_content=remote)
    assert "configuration_id" in found


def rendered(rule_file: RuleWriter, event_data: dict[str, Any], **parts: Any) -> Any:
    [rule] = load_rules([rule_file(message=ADVANCED, **parts)], checks=RuleChecks(content=READY))
    event = notice(**event_data)
    return render_content(rule, event, render(rule, event), READY.sources)


def test_attachments_and_remote_content_render_from_the_event(rule_file: RuleWriter) -> None:
    remote = {"subject": "Il tuo avviso", "markdown": "Importo: {{ data.amount_cents | euro }}"}

    content = rendered(rule_file, {}, attachments=[ATTACHMENT], remote_content=remote)

    [attachment] = content.attachments
    number = NOTICE_DATA["notice_number"]
    assert (attachment.id, attachment.name, attachment.source, attachment.path) == (
        number,
        f"Avviso {number}.pdf",
        "docs",
        f"avvisi/{number}.pdf",
    )
    assert content.remote.subject == "Il tuo avviso"
    assert content.remote.markdown == "Importo: 187,50\xa0€"


@pytest.mark.parametrize(
    ("category", "reason"),
    [("..", "segments"), (".", "segments"), ("a b, c?", None)],
    ids=["climbs", "stays", "quoted"],
)
def test_an_attachment_path_that_would_leave_its_source_sends_the_event_to_the_dlq(
    rule_file: RuleWriter, category: str, reason: str | None
) -> None:
    """The example loads; an event's own data may still try to climb out."""
    attachment = {**ATTACHMENT, "path": "{{ data.description }}/{{ data.notice_number }}.pdf"}
    if reason is None:
        [made] = rendered(
            rule_file, {"description": category}, attachments=[attachment]
        ).attachments
        assert document_url(SOURCE, made.path).startswith(SOURCE.base_url + "a%20b%2C%20c%3F/")
        return
    with pytest.raises(RenderError, match=reason):
        rendered(rule_file, {"description": category}, attachments=[attachment])


def test_a_path_in_the_rule_that_leaves_its_source_is_refused_at_load(
    rule_file: RuleWriter,
) -> None:
    attachment = {**ATTACHMENT, "path": "../{{ data.notice_number }}.pdf"}

    [found] = problems(rule_file, READY, message=ADVANCED, attachments=[attachment])

    assert "its example does not render" in found
    assert "'..' segments" in found


def test_an_id_that_is_not_one_path_segment_is_a_render_error(rule_file: RuleWriter) -> None:
    attachment = {**ATTACHMENT, "id": "{{ data.category }}/{{ data.notice_number }}"}

    with pytest.raises(RulesError, match="attachment id"):
        rendered(rule_file, {}, attachments=[attachment])


def test_two_attachments_with_one_id_are_refused(rule_file: RuleWriter) -> None:
    with pytest.raises(RulesError, match="same id"):
        rendered(rule_file, {}, attachments=[ATTACHMENT, ATTACHMENT])


def test_remote_content_longer_than_io_allows_goes_to_the_dlq_not_to_the_topic(
    rule_file: RuleWriter,
) -> None:
    remote = {"subject": "Il tuo avviso", "markdown": "{{ data.description * 1000 }}"}

    with pytest.raises(RulesError, match=r"remote_content\.markdown"):
        rendered(rule_file, {}, remote_content=remote)


def test_a_feature_level_rendered_standard_cannot_carry_attachments(
    rule_file: RuleWriter,
) -> None:
    message = {**ADVANCED, "feature_level_type": "{{ 'STANDARD' }}"}

    [found] = problems(rule_file, READY, message=message, attachments=[ATTACHMENT])

    assert "attachments need feature_level_type ADVANCED" in found
