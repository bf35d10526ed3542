"""No configured secret ever shows in what io-relay writes: its log (at DEBUG), the status,
DLQ and tracking topics (keys, values and headers), /metrics and the probes.

The secrets are the IO subscription keys, given in each of the three ways the config takes
them (inline, ``key_env``, ``key_file``), and the SASL password. Each key is random, so a
window of it found anywhere can only be a leak; the run goes through SASL, injected IO
faults (so retries and their warnings are logged), rejections and the message lifecycle. A
run with a wrong SASL password, and a configuration that fails validation, must not print
the secrets either.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from consumer.sandbox.auth import key_fingerprint
from tests.fixtures.kafka import TopicFactory, client_settings
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.ports import free_port
from tests.fixtures.relay import (
    REPO_ROOT,
    SERVICES,
    RelayFactory,
    generate_events,
    read_statuses,
    relay_config,
    wait_for_terminal,
    wait_until,
)
from tests.fixtures.sandbox import SandboxFactory
from tests.fixtures.tracking import FAST_SCHEDULE, tracking_topics

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

EVENTS = 120
PHASE_BOUND_S = 90.0  # against a hung test, not a performance claim
WINDOW = 12
"""A leak is any 12 characters of a secret in a row: a key cut short still leaks."""


def spellings(secret: str) -> set[str]:
    """The secret's windows, in clear and in the encodings a careless log line might use."""
    windows = {secret[i : i + WINDOW] for i in range(max(1, len(secret) - WINDOW + 1))}
    return windows | {
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        secret.encode().hex(),
    }


def leaks(found_in: Mapping[str, str], secret_values: Iterable[str]) -> list[str]:
    """Where each secret shows, as "<output>: <spelling>"."""
    return [
        f"{where}: {spelling!r}"
        for secret in secret_values
        for spelling in spellings(secret)
        for where, text in found_in.items()
        if spelling in text
    ]


def topic_text(target: dict[str, str], topic: str) -> str:
    """Every key, value and header of a topic, as one text to search."""
    parts: list[str] = []
    for message in consume_all(target, topic):
        parts += [(message.key or b"").decode(errors="replace")]
        parts += [(message.value or b"").decode(errors="replace")]
        parts += [
            f"{name}={(value or b'').decode(errors='replace')}" for name, value in message.headers
        ]
    return "\n".join(parts)


def io_services(keys: Mapping[str, str], tmp_path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The three services, one key inline, one from a variable, one from a file; and the
    environment the relay needs for them."""
    tari, tributi, documenti = SERVICES
    key_file = tmp_path / "io-key-documenti"
    key_file.write_text(keys[documenti] + "\n")
    services = {
        tari: {"account": "test", "key": keys[tari]},
        tributi: {"account": "test", "key_env": "IO_KEY_TRIBUTI"},
        documenti: {"account": "test", "key_file": str(key_file)},
    }
    return services, {"IO_KEY_TRIBUTI": keys[tributi]}


def test_a_full_run_shows_no_secret_in_its_log_topics_metrics_or_probes(
    kafka_sasl: dict[str, str],
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    keys = {name: f"{name}-{secrets.token_hex(16)}" for name in SERVICES}
    samples = generate_events(EVENTS)
    topics = tracking_topics(new_topic, partitions=3, tracking_partitions=2)
    sandbox = start_sandbox(
        profiles=samples.profiles_document(),
        rate_limit="off",
        fault_rate=0.1,
        faults="500,503",
        seed=14,
    )
    delivered = produce(kafka_sasl, topics.events, samples.records())
    config = relay_config(
        bootstrap=kafka_sasl["bootstrap.servers"],
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        client=client_settings(kafka_sasl),
        tracking=FAST_SCHEDULE,
        metrics_port=(port := free_port()),
        retry={"initial_backoff_s": 0.05, "max_backoff_s": 0.2},
    )
    config["io"]["services"], env = io_services(keys, tmp_path)
    config["observability"]["log_level"] = "DEBUG"
    config_path = tmp_path / "relay.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    relay = start_relay(config_path, env)
    wait_for_terminal(
        kafka_sasl, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=[relay]
    )
    wait_until(
        lambda: any(s.stage == "PROCESSING" for s in read_statuses(kafka_sasl, topics.status)),
        timeout=PHASE_BOUND_S,
        what="a lifecycle record",
        watch=[relay],
    )
    base = f"http://127.0.0.1:{port}"
    outputs = {
        path: httpx.get(base + path, timeout=5).text for path in ("/metrics", "/healthz", "/readyz")
    }
    relay.terminate()
    assert relay.wait(60) == 0, relay.log_tail()
    outputs |= {
        "log": relay.log(),
        "status topic": topic_text(kafka_sasl, topics.status),
        "DLQ topic": topic_text(kafka_sasl, topics.dlq),
        "tracking topic": topic_text(kafka_sasl, str(topics.tracking)),
        "sandbox admin": httpx.get(f"{sandbox.base_url}/__sandbox/messages", timeout=10).text,
        "sandbox log": sandbox.log(),
    }

    assert leaks(outputs, [*keys.values(), kafka_sasl["sasl.password"]]) == []
    # Not vacuous: every key was used, faults were retried, and each output holds something.
    assert {m["key_fingerprint"] for m in sandbox.messages()} == {
        key_fingerprint(key) for key in keys.values()
    }
    assert sum(sandbox.stats()["faults"].values()) > 0
    assert '"level": "debug"' in outputs["log"]
    assert "io_relay_" in outputs["/metrics"]
    assert all(outputs[name] for name in ("status topic", "DLQ topic", "tracking topic"))


def test_a_refused_sasl_password_is_not_printed(
    kafka_sasl: dict[str, str],
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    wrong_password = f"wrong-{secrets.token_hex(12)}"
    keys = {name: f"{name}-{secrets.token_hex(16)}" for name in SERVICES}
    topics = tracking_topics(new_topic, partitions=1, tracking_partitions=1)
    sandbox = start_sandbox(rate_limit="off")
    config = relay_config(
        bootstrap=kafka_sasl["bootstrap.servers"],
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        client=client_settings(kafka_sasl, **{"sasl.password": wrong_password}),
    )
    config["io"]["services"], env = io_services(keys, tmp_path)
    config["observability"]["log_level"] = "DEBUG"
    config_path = tmp_path / "relay.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    relay = start_relay(config_path, env)

    assert relay.wait(PHASE_BOUND_S) == 2
    assert "SASL authentication" in relay.log()  # it did try, and said why it stopped
    assert leaks({"log": relay.log()}, [wrong_password, *keys.values()]) == []


def test_a_configuration_that_fails_validation_names_the_problem_not_the_secrets(
    tmp_path: Path,
) -> None:
    password, key = f"pw-{secrets.token_hex(12)}", f"key-{secrets.token_hex(16)}"
    config = tmp_path / "relay.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kafka": {"client": {"sasl.password": password, "ssl.key.password": [password]}},
                "io": {"services": {"tari": {"account": "nowhere", "key": key, "key_env": "X"}}},
            }
        )
    )

    shown = subprocess.run(
        [sys.executable, "-m", "consumer", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )

    assert shown.returncode == 2
    assert "ssl.key.password must be a string" in shown.stderr
    assert "give exactly one of key, key_env, key_file" in shown.stderr
    assert leaks({"stdout": shown.stdout, "stderr": shown.stderr}, [password, key]) == []
