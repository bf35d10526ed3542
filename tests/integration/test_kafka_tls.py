"""TLS to Kafka, as in production (SASL_SSL): the local broker's SASL_SSL listener
(deploy/local/kafka.sh), the relay end to end over it, and a CA that does not sign the
broker's certificate, which stops the relay at start with exit code 2 and a message naming
the certificate verification.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.kafka import TopicFactory, client_settings
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    check_dead_letters,
    check_delivery,
    generate_events,
    read_statuses,
    relay_topics,
    status_count,
    write_relay_config,
)
from tests.fixtures.sandbox import Sandbox, SandboxFactory

pytestmark = pytest.mark.kafka

PARTITIONS = 4
IDLE_S = 3.0
# Generous bounds against a hung run, not performance claims.
RUN_BOUND_S = 180.0
# The start-up gives the brokers 30 s to describe the status topic before it gives up.
EXIT_BOUND_S = 90.0


@pytest.fixture
def topics(new_topic: TopicFactory) -> RelayTopics:
    return relay_topics(new_topic, partitions=PARTITIONS)


def config_for(
    tmp_path: Path,
    kafka_sasl_ssl: dict[str, str],
    topics: RelayTopics,
    sandbox: Sandbox,
    client: dict[str, str],
) -> Path:
    return write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_sasl_ssl["bootstrap.servers"],
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        client=client,
    )


def make_unrelated_ca(directory: Path) -> Path:
    """A self-signed CA of its own, which signed nothing the broker presents."""
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / "ca.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=unrelated test CA",
            "-keyout", str(directory / "ca.key"), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert


def test_the_broker_certificate_verifies_for_127_0_0_1_and_localhost(
    kafka_sasl_ssl: dict[str, str],
) -> None:
    host, port = kafka_sasl_ssl["bootstrap.servers"].rsplit(":", 1)
    context = ssl.create_default_context(cafile=kafka_sasl_ssl["ssl.ca.location"])

    for name in ("127.0.0.1", "localhost"):  # hostname checks on, as in librdkafka
        with (
            socket.create_connection((host, int(port)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in {"TLSv1.2", "TLSv1.3"}
            cert = tls.getpeercert()
        assert cert is not None
        subject_alt_names = set(cert.get("subjectAltName", ()))
        assert {("IP Address", "127.0.0.1"), ("DNS", "localhost")} <= subject_alt_names


def test_a_run_over_sasl_ssl_gives_every_event_its_outcome(
    kafka_sasl_ssl: dict[str, str],
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(200)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    delivered = produce(kafka_sasl_ssl, topics.events, samples.records())
    config = config_for(
        tmp_path, kafka_sasl_ssl, topics, sandbox, client=client_settings(kafka_sasl_ssl)
    )

    relay = start_relay(config, exit_when_idle=IDLE_S)

    assert relay.wait(RUN_BOUND_S) == 0
    statuses = read_statuses(kafka_sasl_ssl, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == 0
    assert check.orphan_submissions == 0
    # One terminal record per event, with the outcome its sample expects.
    terminal = [s for s in statuses if s.terminal]
    assert len(terminal) == len(samples.events)
    assert Counter((s.event_id, s.rule, s.outcome) for s in terminal) == Counter(samples.expected())
    # Each SUBMITTED record names a message the sandbox accepted, and nothing else got there.
    submitted = [s for s in terminal if s.outcome == "SUBMITTED"]
    assert len(submitted) == len(samples.submitted()) > 0
    assert sorted(str(s.io_message_id) for s in submitted) == sorted(str(m["id"]) for m in accepted)
    dead = consume_all(kafka_sasl_ssl, topics.dlq, expected=len(samples.malformed()))
    assert check_dead_letters(samples, delivered, dead, input_topic=topics.events) == []
    assert "Traceback" not in relay.log()


def test_a_ca_that_did_not_sign_the_broker_stops_the_relay_at_start(
    kafka_sasl_ssl: dict[str, str],
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(20)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    produce(kafka_sasl_ssl, topics.events, samples.records())
    wrong_ca = make_unrelated_ca(tmp_path / "unrelated-ca")
    client = client_settings(kafka_sasl_ssl, **{"ssl.ca.location": str(wrong_ca)})
    config = config_for(tmp_path, kafka_sasl_ssl, topics, sandbox, client=client)
    started = time.monotonic()

    relay = start_relay(config)  # no --exit-when-idle: it must stop by itself

    code = relay.wait(EXIT_BOUND_S)
    print(f"\nunrelated CA: exit {code} after {time.monotonic() - started:.1f} s")
    last_lines = relay.log_tail(5)
    assert code == 2, last_lines
    # io-relay's own last word names the TLS failure and the setting to check.
    assert "io-relay: the TLS handshake with Kafka failed" in last_lines
    assert "certificate verify failed" in last_lines
    assert "ssl.ca.location" in last_lines
    assert "Traceback" not in relay.log()
    assert re.search(r"SSL handshake failed", relay.log())  # librdkafka's own lines
    # Nothing got through: no message sent, no status record written.
    assert sandbox.messages() == []
    assert status_count(kafka_sasl_ssl, topics.status) == 0
