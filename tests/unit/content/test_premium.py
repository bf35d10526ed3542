"""Between render and deliver: the third_party_data a Premium rule's message carries, and
the remote content kept for it, one record per input record, rule and recipient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from consumer.content.premium import PremiumContent, with_third_party
from consumer.content.sealed import ContentKeys
from consumer.content.settings import DocumentSource
from consumer.errors import RenderError
from consumer.events import Event, EventTypes, InputRecord, decode
from consumer.rules import RuleChecks, load_rules, render
from consumer.rules.compiled import Rule
from consumer.rules.content import ContentChecks
from tests.unit.rules.conftest import EXAMPLES

CODE = "AAAAAA00A00A000A"
CONFIGURATION_ID = "01M8YBFE6K2ATM7E2T855M1ECS"
SOURCES = {
    "documenti": DocumentSource(
        base_url="https://documenti.comune.example/", allowed_hosts=["documenti.comune.example"]
    )
}


class Store:
    def __init__(self) -> None:
        self.values: dict[str, bytes | None] = {}

    async def keep(self, key: str, value: bytes | None) -> None:
        self.values[key] = value


def document_rule() -> Rule:
    checks = ContentChecks(
        enabled=True, sources=SOURCES, configured_services=frozenset({"documenti"})
    )
    [rule] = load_rules([EXAMPLES / "premium"], checks=RuleChecks(content=checks))
    return rule


def event(offset: int, source: str = "urn:anagrafe") -> Event:
    body = {
        "specversion": "1.0",
        "id": "doc-1",
        "source": source,
        "type": "document.ready",
        "data": {
            "recipient_fiscal_code": CODE,
            "document_id": "CERT-1",
            "title": "Certificato di residenza",
        },
    }
    record = InputRecord("in", 0, offset, None, json.dumps(body).encode())
    return decode(record, EventTypes())


async def test_the_message_carries_a_sealed_id_that_opens_for_its_recipient() -> None:
    keys = ContentKeys({"k1": b"\x03" * 32}, "k1")
    store = Store()
    premium = PremiumContent(keys, SOURCES, {"documenti": CONFIGURATION_ID}, store)
    rule = document_rule()
    message = render(rule, event(0))

    attached = await premium.attach(rule, event(0), message)
    sent = with_third_party(message, attached)

    data = sent.content.third_party_data
    assert data is not None
    assert (data.configuration_id, data.has_attachments, data.has_remote_content) == (
        CONFIGURATION_ID,
        True,
        True,
    )
    reference = keys.open(data.id, CODE)
    assert [a.path for a in reference.attachments] == ["certificati/CERT-1.pdf"]
    assert CODE not in data.id
    assert reference.remote in store.values
    assert CODE.encode() not in (store.values[reference.remote] or b"")


async def test_forgetting_a_duplicate_at_another_offset_keeps_the_first_messages_content() -> None:
    """A producer's duplicate is read at a new offset; say IO then refuses to deliver it (the
    citizen blocked the service): its tombstone must not take the first message's content."""
    keys = ContentKeys({"k1": b"\x03" * 32}, "k1")
    store = Store()
    premium = PremiumContent(keys, SOURCES, {"documenti": CONFIGURATION_ID}, store)
    rule = document_rule()

    first = await premium.attach(rule, event(0), render(rule, event(0)))
    again = await premium.attach(rule, event(7), render(rule, event(7)))
    retried = await premium.attach(rule, event(0), render(rule, event(0)))
    await premium.forget(again)

    assert first.remote_key == retried.remote_key != again.remote_key
    assert store.values[again.remote_key or ""] is None
    assert store.values[first.remote_key or ""] is not None


async def test_attachments_that_would_make_an_id_too_long_for_a_url_go_to_the_dlq(
    tmp_path: Path,
) -> None:
    keys = ContentKeys({"k1": b"\x03" * 32}, "k1")
    premium = PremiumContent(keys, SOURCES, {"documenti": CONFIGURATION_ID}, Store())
    spec = yaml.safe_load((EXAMPLES / "premium" / "documents.yaml").read_text())
    spec["rules"][0]["attachments"] = [
        {"id": f"doc-{n}", "name": f"Documento {n}.pdf", "source": "documenti",
         "path": "certificati/" + "p" * 400 + f"-{n}.pdf"}
        for n in range(10)
    ]  # fmt: skip
    (tmp_path / "many.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    checks = ContentChecks(
        enabled=True, sources=SOURCES, configured_services=frozenset({"documenti"})
    )
    [rule] = load_rules([tmp_path / "many.yaml"], checks=RuleChecks(content=checks))

    with pytest.raises(RenderError, match="over 4000"):
        await premium.attach(rule, event(0), render(rule, event(0)))
