"""What io-relay's clients share about talking to Kafka: the librdkafka settings they are
built with, librdkafka's errors as io-relay's, and what librdkafka knows of the group.

The group's consumer gets everything the loop relies on (manual commits, cooperative
rebalances, end-of-partition events); a helper client (the ledger's reader, the probe, the
operator commands) only where the brokers are and how to log in. A refusal by the brokers
(TLS, credentials) is a FatalError the operator can act on; so is any fatal client error,
and a broker that does not answer a rebalance step for `CALLBACK_BUDGET_S`. The group
generation and member id are read for the logs (observability/group_identity.py).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from consumer.config import KafkaSettings
from consumer.errors import AuthenticationFault, FatalError, TlsFault, TransientError
from consumer.observability.group_identity import GroupIdentity

__all__ = [
    "AUTHENTICATION_CODES",
    "AUTHORIZATION_CODES",
    "CALLBACK_BUDGET_S",
    "GroupMember",
    "consumer_config",
    "generation_in",
    "group_identity_of",
    "helper_client_config",
    "raise_fatal",
    "refusal_fault",
    "within_budget",
]

log = logging.getLogger(__name__)

# rd_kafka_consumer_group_metadata_write: this magic, then a memcpy of the int32_t generation.
_METADATA_MAGIC = b"CGMDv2:"
_GENERATION = struct.Struct("=i")

AUTHENTICATION_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
)
AUTHORIZATION_CODES = frozenset(
    {
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    }
)


def helper_client_config(settings: KafkaSettings) -> dict[str, Any]:
    """The librdkafka settings a helper client (the ledger's reader, the probe) shares with
    the group's consumer: where the brokers are and how to log in, no more."""
    keep = ("bootstrap.servers", "security.protocol", "ssl.", "sasl.")
    config = {**settings.librdkafka(), "bootstrap.servers": settings.bootstrap_servers}
    return {k: v for k, v in config.items() if k.startswith(keep)}


def consumer_config(settings: KafkaSettings, max_poll_interval_ms: int) -> dict[str, Any]:
    return {
        # librdkafka prefetches up to 64 MB by default; 16 MB is seconds of work at full speed
        # and keeps a replica facing a large backlog well under its memory limit.
        "queued.max.messages.kbytes": 16_384,
        **settings.librdkafka(),
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "max.poll.interval.ms": max_poll_interval_ms,
        # The end of a partition is news to the tracking book: a restore may end there.
        "enable.partition.eof": True,
        "error_cb": raise_fatal,
    }


def refusal_fault(error: KafkaError) -> FatalError | None:
    """What a librdkafka error means when it is why the brokers will not let io-relay in: a
    failed TLS handshake (TlsFault) or refused credentials (AuthenticationFault); None for
    any other error."""
    if error.code() == KafkaError._SSL:
        return TlsFault(
            f"the TLS handshake with Kafka failed: {error.str()}; check ssl.ca.location under "
            "kafka.client (the CA that signed the brokers' certificates) and "
            "kafka.bootstrap_servers"
        )
    if error.code() in AUTHENTICATION_CODES:
        return AuthenticationFault(f"Kafka refused io-relay's credentials: {error.str()}")
    return None


def raise_fatal(error: KafkaError) -> None:
    """The consumer's error callback, and its answer to an error polled: refused
    credentials or a fatal client error stop io-relay; anything else is a warning, librdkafka
    retries it."""
    if error.code() in AUTHENTICATION_CODES:
        raise AuthenticationFault(f"Kafka refused io-relay's credentials: {error.str()}")
    if error.fatal():
        raise FatalError(f"Kafka client failed: {error.str()}")
    log.warning("kafka: %s", error.str())


# How long a rebalance callback retries a broker that does not answer: the group waits for
# this member meanwhile (up to max.poll.interval.ms), so a minute, then stop loudly.
CALLBACK_BUDGET_S = 60.0


def within_budget(what: str, call: Callable[[], None]) -> None:
    """Retry a rebalance step through transient errors; past the budget, a FatalError."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_delay(CALLBACK_BUDGET_S),
        wait=wait_exponential(multiplier=0.5, max=5.0),
        before_sleep=lambda state: log.warning(
            "kafka: %s failed, retrying: %s",
            what,
            state.outcome.exception() if state.outcome else "unknown",
        ),
        reraise=True,
    )
    try:
        retrying(call)
    except TransientError as exc:
        raise FatalError(
            f"{what}: the broker did not answer for {CALLBACK_BUDGET_S:.0f} s ({exc}); "
            "check kafka.bootstrap_servers, the brokers' health and that the status topic "
            "is readable"
        ) from None


class GroupMember(Protocol):
    """What `group_identity_of` asks of a consumer (confluent_kafka.Consumer has it)."""

    def memberid(self) -> str | None: ...
    def consumer_group_metadata(self) -> Any: ...


def group_identity_of(consumer: GroupMember) -> GroupIdentity | None:
    """The consumer's group generation and member id; None while it is in no generation.
    Asked of librdkafka's own thread, not of the broker: cheap enough for every rebalance.

    confluent-kafka has no getter for the generation. `consumer_group_metadata()` (meant for
    transactional producers) returns librdkafka's serialized ConsumerGroupMetadata as bytes:
    `CGMDv2:`, the int32 generation id in native byte order, the group id, the member id...
    That layout is librdkafka's, not a public API: another one (a new magic, too short)
    gives a generation of None rather than a wrong number. The member id comes from the
    public `memberid()`. Nothing public would do: the statistics' `cgrp.rebalance_cnt`
    counts this member's rebalances, which differ from the group's generations, and the
    AdminClient's group description has no generation. With the KIP-848 protocol
    (`group.protocol=consumer`, not io-relay's) the number would be the member's epoch.
    """
    member = consumer.memberid()
    try:
        metadata = consumer.consumer_group_metadata()
    except KafkaException:  # not available: the member id alone still tells replicas apart
        metadata = None
    generation = generation_in(metadata)
    if not member or generation == -1:  # -1: librdkafka's "no generation"
        return None
    return GroupIdentity(generation, member)


def generation_in(metadata: object) -> int | None:
    """The generation id in librdkafka's serialized group metadata; None if not recognised."""
    if not isinstance(metadata, bytes) or not metadata.startswith(_METADATA_MAGIC):
        return None
    try:
        (generation,) = _GENERATION.unpack_from(metadata, len(_METADATA_MAGIC))
    except struct.error:
        return None
    return int(generation)
