"""Premium messages end to end: a real broker, the relay, `io-relay content` and the sandbox
playing IO's backend, which opens each message as the app would and checks every answer
against api-third-party.yaml.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fixtures.content import ContentFactory, premium_config, register_configuration
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.ports import free_port
from tests.fixtures.relay import (
    RelayFactory,
    generate_events,
    read_statuses,
    relay_topics,
    wait_for_terminal,
)
from tests.fixtures.sandbox import Sandbox, SandboxFactory

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

EVENTS = 24
PHASE_BOUND_S = 60.0  # against a hung test, not a performance claim


class Premium:
    """One set-up: topics, sandbox, a registered configuration, the relay's config."""

    def __init__(
        self,
        kafka_bootstrap: str,
        new_topic: TopicFactory,
        start_sandbox: SandboxFactory,
        tmp_path: Path,
    ) -> None:
        self.samples = generate_events(EVENTS)
        self.topics = relay_topics(new_topic, partitions=2)
        self.content_topic = new_topic(
            "content", partitions=2, config={"cleanup.policy": "compact"}
        )
        self.sandbox: Sandbox = start_sandbox(
            profiles=self.samples.profiles_document(), rate_limit="off"
        )
        self.bootstrap = kafka_bootstrap
        self.config = tmp_path / "premium.yaml"
        self.config.write_text(
            yaml.safe_dump(
                premium_config(
                    bootstrap=kafka_bootstrap,
                    topics=self.topics,
                    content_topic=self.content_topic,
                    group=f"relay-{self.topics.events}",
                    sandbox_url=self.sandbox.base_url,
                    content_port=free_port(),
                )
            )
        )
        self.configuration_id = register_configuration(self.config)

    def deliver(self, start_relay: RelayFactory) -> list[dict[str, Any]]:
        """Every sample through the relay; the Premium messages the sandbox accepted."""
        delivered = produce(self.bootstrap, self.topics.events, self.samples.records())
        relay = start_relay(self.config)
        wait_for_terminal(
            self.bootstrap,
            self.topics.status,
            self.samples,
            delivered,
            timeout=PHASE_BOUND_S,
            watch=[relay],
        )
        relay.terminate()
        assert relay.wait(30) == 0, relay.log_tail()
        return [m for m in self.sandbox.messages() if "third_party_data" in m["body"]["content"]]

    def open(self, message: dict[str, Any]) -> dict[str, Any]:
        """The citizen opens the message in the app (io-backend's calls, replayed)."""
        url = (
            f"{self.sandbox.base_url}/__sandbox/citizens/{message['body']['fiscal_code']}"
            f"/messages/{message['id']}/open"
        )
        answer: dict[str, Any] = httpx.post(url, timeout=30).raise_for_status().json()
        return answer


def latest_values(bootstrap: str, topic: str) -> dict[bytes | None, bytes | None]:
    """Each key's last value, as compaction will leave it (None: a tombstone)."""
    return {record.key: record.value for record in consume_all(bootstrap, topic, idle=1.0)}


@pytest.fixture
def premium(
    kafka_bootstrap: str, new_topic: TopicFactory, start_sandbox: SandboxFactory, tmp_path: Path
) -> Premium:
    return Premium(kafka_bootstrap, new_topic, start_sandbox, tmp_path)


def test_a_citizen_opens_each_document_message_and_downloads_its_pdf_through_the_content_server(
    premium: Premium, start_relay: RelayFactory, start_content: ContentFactory
) -> None:
    start_content(premium.config)

    messages = premium.deliver(start_relay)

    expected = [s for s in premium.samples.submitted() if s.rule == "document-ready"]
    assert len(messages) == len(expected) > 0
    # Remote content stays only for messages sent: the others' got a tombstone.
    not_sent = [
        s for s in premium.samples.events if s.rule == "document-ready" and s.outcome != "SUBMITTED"
    ]
    assert not_sent, "the samples should hold documents IO never got"
    live = latest_values(premium.bootstrap, premium.content_topic)
    assert sum(value is not None for value in live.values()) == len(messages)
    assert sum(value is None for value in live.values()) == len(not_sent)
    for message in messages:
        data = message["body"]["content"]["third_party_data"]
        assert data["configuration_id"] == premium.configuration_id
        assert data["has_attachments"] is data["has_remote_content"] is True
        assert message["body"]["feature_level_type"] == "ADVANCED"
        opened = premium.open(message)
        assert opened["status"] == 200, opened
        assert opened["problems"] == []
        [attachment] = opened["attachments"]
        assert attachment["status"] == 200
        assert attachment["name"].endswith(".pdf")
        document_id = attachment["id"]
        assert document_id in opened["details"]["details"]["markdown"]
        pdf = httpx.get(
            f"{premium.sandbox.base_url}/documents/certificati/{document_id}.pdf",
            headers={"authorization": "Bearer sandbox-document-token"},
            timeout=10,
        ).content
        assert attachment["size"] == len(pdf)
        assert attachment["sha256"] == hashlib.sha256(pdf).hexdigest()


def test_the_same_event_read_again_makes_one_message_and_still_opens(
    premium: Premium, start_relay: RelayFactory, start_content: ContentFactory
) -> None:
    start_content(premium.config)
    first = premium.deliver(start_relay)

    # A new group reads the same records again: the ledger finds them reported.
    config = yaml.safe_load(premium.config.read_text())
    config["kafka"]["group_id"] += "-again"
    premium.config.write_text(yaml.safe_dump(config))
    relay = start_relay(premium.config, exit_when_idle=3.0)
    assert relay.wait(90) == 0, relay.log_tail()

    statuses = read_statuses(premium.bootstrap, premium.topics.status)
    again = [s for s in statuses if s.rule == "document-ready" and s.outcome == "DUPLICATE"]
    assert len(again) == len(first)
    after = [m for m in premium.sandbox.messages() if "third_party_data" in m["body"]["content"]]
    assert [m["id"] for m in after] == [m["id"] for m in first]
    assert all(premium.open(message)["status"] == 200 for message in first)


def test_a_content_server_restarted_between_submit_and_open_answers_the_same(
    premium: Premium, start_relay: RelayFactory, start_content: ContentFactory
) -> None:
    before = start_content(premium.config)
    messages = premium.deliver(start_relay)
    assert before.terminate() == 0

    start_content(premium.config)  # a new process: only the topic and the keys carry over

    opened = [premium.open(message) for message in messages]
    assert [answer["status"] for answer in opened] == [200] * len(messages)
    assert all(answer["problems"] == [] for answer in opened)
    assert all(answer["attachments"][0]["status"] == 200 for answer in opened)


def test_two_content_server_replicas_answer_alike(
    premium: Premium, start_relay: RelayFactory, start_content: ContentFactory
) -> None:
    one = start_content(premium.config)
    two = start_content(premium.config, env={"IO_RELAY_CONTENT__PORT": str(free_port())})
    messages = premium.deliver(start_relay)

    for message in messages:
        data = message["body"]["content"]["third_party_data"]
        code = message["body"]["fiscal_code"]
        details = [replica.get(f"/messages/{data['id']}", code) for replica in (one, two)]
        assert [answer.status_code for answer in details] == [200, 200]
        assert details[0].json() == details[1].json()
        attachment = details[0].json()["attachments"][0]["url"]
        pdfs = [replica.get(f"/messages/{data['id']}/{attachment}", code) for replica in (one, two)]
        assert [answer.status_code for answer in pdfs] == [200, 200]
        assert pdfs[0].content == pdfs[1].content
        assert pdfs[0].content.startswith(b"%PDF")
