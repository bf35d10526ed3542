"""A message's page: what the app's message detail shows, in the citizen's language."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from consumer.config import Settings
from consumer.events import EventTypes
from consumer.preview import MessagePreview, preview_event, write_previews
from consumer.preview.page import render_page
from consumer.rules import Rule
from consumer.rules.render import example_event
from tests.unit.preview.conftest import visible


def page_of(previews: list[MessagePreview], name: str, *, premium: bool = False) -> str:
    [preview] = [p for p in previews if p.name == name and (p.content is not None) == premium]
    return render_page(preview)


def test_a_tari_notice_shows_its_due_date_and_payment_box(
    example_previews: list[MessagePreview],
) -> None:
    page = page_of(example_previews, "tari-notice.it_IT")

    assert visible(page, "subject").words() == "Avviso di pagamento TARI"
    assert visible(page, "due").words() == "Scade il 31 marzo 2027"
    assert visible(page, "pay").words() == "Paga 187,50\xa0€"
    assert (
        visible(page, "payment")
        .words()
        .endswith("Codice avviso 302100000000123456 Ente creditore 01199250158")
    )
    assert visible(page, "service-name").words() == "tari"


def test_a_german_citizen_reads_the_german_text_and_labels(
    example_previews: list[MessagePreview],
) -> None:
    page = page_of(example_previews, "generic-notice.de_DE")

    assert '<html lang="de">' in page
    assert visible(page, "subject").words() == "Neue Zahlungsaufforderung"
    assert visible(page, "pay").words() == "45,00\xa0€ bezahlen"
    assert "Zahlungshinweis-Code 302100000000987654" in visible(page, "payment").words()


def test_premium_content_shows_as_the_opened_message_with_its_attachments(
    example_previews: list[MessagePreview],
) -> None:
    page = page_of(example_previews, "document-ready.it_IT", premium=True)

    assert visible(page, "subject").words() == "Certificato di residenza"
    assert visible(page, "text").words().startswith("Il documento Certificato di residenza (n.")
    assert visible(page, "attachment").words() == "Certificato di residenza.pdf"
    assert "«Un tuo documento è disponibile»" in visible(page, "premium").words()
    assert visible(page, "payment").words() == ""


def test_the_fold_holds_the_request_body_with_the_fiscal_code_masked(
    example_previews: list[MessagePreview],
) -> None:
    [preview] = [p for p in example_previews if p.name == "tari-notice.it_IT"]
    page = render_page(preview)
    [pre] = re.findall(r"<pre>(.*?)</pre>", page, flags=re.DOTALL)

    body = json.loads(unescape(pre))
    expected = preview.message.to_json_body()
    assert body == {**expected, "fiscal_code": "AAA**********00A"}
    assert "AAAAAA00A00A000A" not in page
    assert "I codici fiscali sono mascherati." in visible(page, "request").words()


def test_a_page_asks_for_nothing_from_anywhere(example_previews: list[MessagePreview]) -> None:
    for preview in example_previews:
        page = render_page(preview)
        assert "default-src 'none'; style-src 'unsafe-inline'" in page
        assert not re.search(r"<(script|img|link|iframe)\b|\bsrc=", page), preview.name


CODES = ["RSSMRA85T10A562S", "BNCLCU90A01H501X"]
SPELLINGS = [
    "RSS-MRA-85T10-A562S",
    "RSS.MRA.85T10.A562S",
    "RSS_MRA_85T10_A562S",
    "RSS MRA 85T10 A562S",
    "rssmra85t10a562s",
    f"{CODES[0]} e {CODES[1]}",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_fiscal_code_in_event_data_shows_nowhere_in_any_spelling(
    examples: tuple[Settings, EventTypes, list[Rule]], tmp_path: Path, spelling: str
) -> None:
    """Markdown escapes the separators (`RSS\\-MRA`), which the mask would not see in the
    source, and the mask's stars would read as emphasis there: it applies to what shows."""
    _, types, rules = examples
    tari = [rule for rule in rules if rule.name == "tari-notice"]
    event = example_event(tari[0], types)
    assert not isinstance(event.data, dict)  # a built-in type: a model
    data = event.data.model_copy(update={"description": f"per {spelling}, grazie"})
    [preview] = preview_event(tari, replace(event, data=data), types, {})

    write_previews([preview], tmp_path)
    written = "".join(path.read_text() for path in tmp_path.iterdir())

    squeezed = re.sub(r"[ \-._\\]", "", written).upper()
    assert [code for code in CODES if code in squeezed] == []
    assert "Descrizione: per RSS**********62S" in visible(written, "text").words()
    assert render_page(preview).count("<strong>") == 1  # the rule's own, around "Tassa ..."


class Tags(HTMLParser):
    """Every element and attribute name, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes |= {name for name, _ in attrs}


HOSTILE = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "[paga qui](javascript:alert(1))",
    "https://evil.example/paga",
    "**grassetto** _corsivo_ `codice`",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_event_value_is_text_on_every_part_of_the_page(
    examples: tuple[Settings, EventTypes, list[Rule]], tmp_path: Path, value: str
) -> None:
    """In the text (markdown), the attachment name and the remote subject (plain text)."""
    settings, types, rules = examples
    premium = [rule for rule in rules if rule.premium]
    event = example_event(premium[0], types)
    assert not isinstance(event.data, dict)
    data = event.data.model_copy(update={"title": value, "issuer_name": value})
    [preview] = preview_event(
        premium, replace(event, data=data), types, settings.content.document_sources
    )

    write_previews([preview], tmp_path)
    page = (tmp_path / "document-ready.it_IT.html").read_text()
    index = (tmp_path / "index.html").read_text()

    for html in (page, index):
        tags = Tags()
        tags.feed(html)
        assert {"script", "img"} & tags.names == set()
        assert [name for name in tags.attributes if name.startswith("on")] == []
    assert visible(index, "rows").links == [("document-ready", "document-ready.it_IT.html")]
    assert visible(page, "text").links == []
    assert value in visible(page, "text").words()
    assert visible(page, "attachment").words() == f"{value}.pdf"
    assert visible(page, "subject").words() == value
