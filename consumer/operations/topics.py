"""The topics io-relay needs, as the configuration names them, and what the broker holds.

    input topics    read by the group                       delete (the producers' retention)
    status topic    one record per (event, rule) and change  delete: compaction would drop the
                                                             earlier records of an event
    DLQ topic       dead letters                             delete
    tracking topic  the messages under tracking              compact, only
    content topic   remote content (Premium rules)           compact, only
    replay topic    dead letters replayed (`dlq replay`)     compact; and delete only if it
                                                             keeps entries longer than the DLQ
                                                             can keep their letters

`create` makes what is missing and never touches what exists; `check` reports every
mismatch. Both speak through the AdminClient only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin imports these without re-exporting them (mypy --strict): take them
# from where they are defined.
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from consumer.config import Settings
from consumer.errors import FatalError
from consumer.runtime.source import helper_client_config

COMPACT = "compact"
DELETE = "delete"
COMPACT_MAY_EXPIRE = "compact, or compact,delete outliving the DLQ"
FOREVER = -1
"""retention.ms of a topic that deletes nothing by age."""
_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class WantedTopic:
    name: str
    role: str
    """What io-relay does with it, for the messages: `input`, `status`, `dlq`, ..."""
    policy: str

    @property
    def created_with(self) -> str:
        return COMPACT if self.policy == COMPACT_MAY_EXPIRE else self.policy


@dataclass(frozen=True, slots=True)
class HeldTopic:
    partitions: int
    policy: str
    retention_ms: int = FOREVER
    segment_ms: int = 7 * 24 * 3600 * 1000


def wanted_topics(settings: Settings) -> list[WantedTopic]:
    """Every topic this configuration reads or writes."""
    kafka = settings.kafka
    topics = [WantedTopic(name, "input", DELETE) for name in kafka.input_topics]
    topics += [
        WantedTopic(kafka.status_topic, "status", DELETE),
        WantedTopic(kafka.dlq_topic, "dlq", DELETE),
    ]
    if settings.tracking.enabled:
        topics.append(WantedTopic(kafka.tracking_topic, "tracking", COMPACT))
    if settings.content.enabled:
        topics.append(WantedTopic(kafka.content_topic, "content", COMPACT))
    topics.append(WantedTopic(kafka.replay_topic, "replay", COMPACT_MAY_EXPIRE))
    return topics


def problems_with(wanted: Iterable[WantedTopic], held: Mapping[str, HeldTopic]) -> list[str]:
    """Every mismatch between what io-relay needs and what the broker holds, in words."""
    problems = []
    wanted = list(wanted)
    for topic in wanted:
        found = held.get(topic.name)
        if found is None:
            problems.append(f"{topic.role} topic {topic.name}: missing")
            continue
        policies = set(found.policy.split(","))
        if topic.policy == COMPACT and policies != {COMPACT}:
            problems.append(
                f"{topic.role} topic {topic.name}: cleanup.policy is {found.policy}, must be "
                f"{COMPACT} only (it keeps the last record of each key for as long as needed)"
            )
        if topic.policy == DELETE and COMPACT in policies:
            problems.append(
                f"{topic.role} topic {topic.name}: cleanup.policy is {found.policy}: compaction "
                "would drop records io-relay reads back"
            )
        if topic.policy == COMPACT_MAY_EXPIRE:
            problems += _replay_problems(topic, found, policies, held, wanted)
    inputs = [held[t.name].partitions for t in wanted if t.role == "input" and t.name in held]
    status = next((held.get(t.name) for t in wanted if t.role == "status"), None)
    if inputs and status is not None and status.partitions > max(inputs):
        problems.append(
            f"status topic: {status.partitions} partitions, more than the largest input topic's "
            f"{max(inputs)}: a status partition is `input partition mod status partitions`, so "
            "the extra ones stay empty"
        )
    return problems


def _replay_problems(
    topic: WantedTopic,
    found: HeldTopic,
    policies: set[str],
    held: Mapping[str, HeldTopic],
    wanted: list[WantedTopic],
) -> list[str]:
    """The replay ledger must remember a replay as long as the DLQ holds the letter: Kafka
    deletes whole segments, so a letter may outlive the DLQ's retention.ms by its segment.ms."""
    if COMPACT not in policies:
        return [
            f"{topic.role} topic {topic.name}: cleanup.policy is {found.policy}, must include "
            f"{COMPACT} (one entry per dead letter replayed)"
        ]
    dlq = next((held.get(t.name) for t in wanted if t.role == "dlq"), None)
    if DELETE not in policies or dlq is None or found.retention_ms == FOREVER:
        return []
    if dlq.retention_ms != FOREVER and found.retention_ms >= dlq.retention_ms + dlq.segment_ms:
        return []
    return [
        f"{topic.role} topic {topic.name}: cleanup.policy {found.policy} with retention.ms "
        f"{found.retention_ms} may forget a replay while the DLQ still holds the letter (its "
        f"retention.ms plus segment.ms); a second replay would send it again: make it "
        f"{COMPACT} only"
    ]


class Topics:
    """The broker's side: describe and create, through one AdminClient."""

    def __init__(self, settings: Settings) -> None:
        try:
            self._admin = AdminClient(
                {**helper_client_config(settings.kafka), "socket.timeout.ms": 10_000}
            )
        except KafkaException as exc:  # kafka.client settings librdkafka refuses outright
            raise FatalError(f"kafka.client: {exc.args[0].str()}") from None

    def held(self, names: Iterable[str]) -> dict[str, HeldTopic]:
        """What the broker holds of these topics (those missing are left out)."""
        try:
            metadata = self._admin.list_topics(timeout=_TIMEOUT_S)
        except KafkaException as exc:
            raise FatalError(
                f"cannot reach the brokers: {exc.args[0].str()}; check "
                "kafka.bootstrap_servers and the credentials under kafka.client"
            ) from None
        present = {
            name: len(metadata.topics[name].partitions)
            for name in names
            if name in metadata.topics and metadata.topics[name].error is None
        }
        if not present:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in present]
        held = {}
        for resource, future in self._admin.describe_configs(resources).items():
            try:
                entries = future.result(timeout=_TIMEOUT_S)
            except KafkaException:  # deleted meanwhile, or not ours to read: as missing
                continue
            except TimeoutError:
                raise FatalError(f"the broker did not describe {resource.name}") from None
            policy = str(entries["cleanup.policy"].value)
            retention = int(str(entries["retention.ms"].value))
            segment = int(str(entries["segment.ms"].value))
            held[resource.name] = HeldTopic(present[resource.name], policy, retention, segment)
        return held

    def wait_for(self, names: Iterable[str]) -> None:
        """Until the brokers' metadata shows every topic with a leader for each partition."""
        names = list(names)
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            topics = self._admin.list_topics(timeout=_TIMEOUT_S).topics
            if all(
                name in topics
                and topics[name].error is None
                and all(p.leader >= 0 for p in topics[name].partitions.values())
                for name in names
            ):
                return
            time.sleep(0.2)
        raise FatalError(f"created, but not ready within {_TIMEOUT_S:.0f} s: {', '.join(names)}")

    def create(self, wanted: Iterable[WantedTopic], partitions: int, replication: int) -> list[str]:
        """Create the topics not there yet; the names created."""
        topics = [
            NewTopic(
                topic.name,
                num_partitions=partitions,
                replication_factor=replication,
                config={"cleanup.policy": topic.created_with},
            )
            for topic in wanted
        ]
        if not topics:
            return []
        created = []
        futures = self._admin.create_topics(topics, operation_timeout=_TIMEOUT_S)
        for name, future in futures.items():
            try:
                future.result(timeout=_TIMEOUT_S)
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue  # made meanwhile by someone else: what `check` is for
                raise FatalError(f"cannot create {name}: {exc.args[0].str()}") from None
            created.append(name)
        self.wait_for(created)
        return created
