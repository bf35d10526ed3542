"""The group generation read from what librdkafka says of the group (the client settings and
errors are tested in test_kafka_refusals.py and through the integration tests)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException

from consumer.observability.group_identity import GroupIdentity
from consumer.runtime.librdkafka import generation_in, group_identity_of

MEMBER = "rdkafka-6c1f7a0e-93d4-4b7e-8a52-0f9e1d2c3b4a"


def metadata(generation: int, group: str = "io-relay", member: str = MEMBER) -> bytes:
    """librdkafka's serialized ConsumerGroupMetadata (rd_kafka_consumer_group_metadata_write)."""
    return b"CGMDv2:" + struct.pack("=i", generation) + f"{group}\0{member}\0".encode() + b"\1"


class Member:
    def __init__(self, member: str | None, blob: object) -> None:
        self._member = member
        self._blob = blob

    def memberid(self) -> str | None:
        return self._member

    def consumer_group_metadata(self) -> Any:
        if isinstance(self._blob, Exception):
            raise self._blob
        return self._blob


def test_the_installed_librdkafka_still_writes_the_layout_read_here() -> None:
    """A consumer that has joined no group yet: generation -1, read as "in no generation"."""
    consumer = Consumer({"group.id": "io-relay-layout", "bootstrap.servers": "127.0.0.1:9"})
    try:
        blob = consumer.consumer_group_metadata()
        assert generation_in(blob) == -1
        assert group_identity_of(consumer) is None
    finally:
        consumer.close()


def test_a_member_in_a_generation_has_both() -> None:
    assert group_identity_of(Member(MEMBER, metadata(12))) == GroupIdentity(12, MEMBER)


@pytest.mark.parametrize(
    "member",
    [
        pytest.param(Member(None, metadata(12)), id="no member id yet"),
        pytest.param(Member("", metadata(12)), id="empty member id"),
        pytest.param(Member(MEMBER, metadata(-1)), id="generation -1"),
    ],
)
def test_a_consumer_in_no_generation_has_no_identity(member: Member) -> None:
    assert group_identity_of(member) is None


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"CGMDv3:" + struct.pack("=i", 12) + b"io-relay\0", id="another layout"),
        pytest.param(b"CGMDv2:\x0c\x00", id="too short"),
        pytest.param("CGMDv2:....", id="not bytes"),
        pytest.param(KafkaException(KafkaError(KafkaError._STATE)), id="not available"),
    ],
)
def test_an_unreadable_generation_is_none_never_a_wrong_number(blob: object) -> None:
    """The layout is librdkafka's, not an API: the member id still tells replicas apart."""
    assert group_identity_of(Member(MEMBER, blob)) == GroupIdentity(None, MEMBER)
