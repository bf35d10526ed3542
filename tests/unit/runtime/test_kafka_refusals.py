"""A broker that will not let io-relay in at start: librdkafka's TLS and SASL errors become
io-relay's faults, named in the message the start-up failure stops with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.config import KafkaSettings
from consumer.errors import AuthenticationFault, FatalError, TlsFault
from consumer.runtime import sink as sink_module
from consumer.runtime.sink import ReportSink
from consumer.runtime.source import refusal_fault

VERIFY_FAILED = (
    "sasl_ssl://127.0.0.1:9094/bootstrap: SSL handshake failed: error:0A000086:SSL "
    "routines::certificate verify failed: broker certificate could not be verified"
)
BAD_PASSWORD = (
    "sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication "
    "failed: Invalid username or password"
)
NO_METADATA = "Failed to get metadata: Local: Broker transport failure"


def test_a_failed_tls_handshake_is_a_tls_fault_naming_the_ca_setting() -> None:
    fault = refusal_fault(KafkaError(KafkaError._SSL, VERIFY_FAILED))

    assert isinstance(fault, TlsFault)
    assert isinstance(fault, FatalError)
    assert "TLS handshake with Kafka failed" in str(fault)
    assert "certificate verify failed" in str(fault)  # librdkafka's own reason
    assert "ssl.ca.location" in str(fault)


@pytest.mark.parametrize(
    "code", [KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED]
)
def test_refused_credentials_are_an_authentication_fault(code: int) -> None:
    fault = refusal_fault(KafkaError(code, BAD_PASSWORD))

    assert isinstance(fault, AuthenticationFault)
    assert "Kafka refused io-relay's credentials" in str(fault)
    assert "Invalid username or password" in str(fault)


@pytest.mark.parametrize(
    "code", [KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT]
)
def test_other_errors_are_no_refusal(code: int) -> None:
    assert refusal_fault(KafkaError(code, "down")) is None


class UnreachableProducer:
    """A producer whose brokers never answer; `poll` serves the error events queued meanwhile
    through the configured error_cb, as librdkafka does."""

    def __init__(self, config: dict[str, Any], queued: list[KafkaError]) -> None:
        self._error_cb: Callable[[KafkaError], None] = config["error_cb"]
        self._queued = list(queued)

    def list_topics(self, topic: str, timeout: float) -> Any:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, NO_METADATA))

    def poll(self, timeout: float) -> int:
        served, self._queued = self._queued, []
        for error in served:
            self._error_cb(error)
        return len(served)


def start_sink(monkeypatch: pytest.MonkeyPatch, queued: list[KafkaError]) -> None:
    monkeypatch.setattr(sink_module, "Producer", lambda config: UnreachableProducer(config, queued))
    ReportSink(KafkaSettings(status_topic="status"))


def test_a_start_that_fails_on_the_tls_handshake_stops_with_a_tls_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = [
        KafkaError(KafkaError._SSL, VERIFY_FAILED),
        KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"),
        KafkaError(KafkaError._TRANSPORT, "certificate verify failed"),
    ]

    with pytest.raises(TlsFault, match=r"certificate verify failed.*ssl\.ca\.location"):
        start_sink(monkeypatch, queued)


def test_a_start_that_fails_on_the_credentials_stops_with_an_authentication_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = [KafkaError(KafkaError._AUTHENTICATION, BAD_PASSWORD)]

    with pytest.raises(AuthenticationFault, match="Invalid username or password"):
        start_sink(monkeypatch, queued)


def test_a_start_without_a_refusal_stops_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    queued = [KafkaError(KafkaError._TRANSPORT, "Connection refused")]

    with pytest.raises(FatalError) as caught:
        start_sink(monkeypatch, queued)

    assert type(caught.value) is FatalError
    assert str(caught.value) == (
        f"cannot describe topic 'status': {NO_METADATA}; check kafka.bootstrap_servers and "
        "the credentials under kafka.client"
    )
