"""`io-relay doctor` against the real broker and the sandbox: one line a check, and the exit
code says whether any failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.content import ContentFactory, premium_config, register_configuration
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.ports import free_port
from tests.fixtures.relay import REPO_ROOT, SERVICES, relay_config
from tests.fixtures.sandbox import ALLOWED, DEFAULT_PROFILES, SandboxFactory
from tests.fixtures.tracking import tracking_topics

pytestmark = pytest.mark.kafka


def doctor(config: dict[str, Any], path: Path) -> tuple[int, list[list[str]]]:
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "doctor", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, [line.split(maxsplit=2) for line in done.stdout.splitlines()]


@pytest.fixture
def config(
    kafka_bootstrap: str, new_topic: TopicFactory, start_sandbox: SandboxFactory
) -> dict[str, Any]:
    """A configuration that can run: its topics made, its keys the sandbox's."""
    subscriptions = {
        f"sandbox-key-{name}": {"service": name, "account": "test"} for name in SERVICES
    }
    sandbox = start_sandbox(
        profiles={"profiles": DEFAULT_PROFILES, "subscriptions": subscriptions}, rate_limit="off"
    )
    topics = tracking_topics(new_topic, partitions=2, tracking_partitions=2)
    made = relay_config(
        bootstrap=kafka_bootstrap, topics=topics, group="doctor", base_url=sandbox.base_url
    )
    made["io"]["test_fiscal_code"] = ALLOWED
    made["kafka"]["replay_topic"] = new_topic("replays", config={"cleanup.policy": "compact"})
    return made


def test_a_configuration_that_can_run_passes_every_check(
    config: dict[str, Any], tmp_path: Path
) -> None:
    code, lines = doctor(config, tmp_path / "config.yaml")

    assert code == 0, lines
    assert [(verdict, check) for verdict, check, _ in lines] == [
        ("ok", "config"),
        ("ok", "broker"),
        ("ok", "topics"),
        ("ok", "rules"),
        *(("ok", "io") for _ in SERVICES),
        ("skip", "content"),
    ]
    assert {detail for _, check, detail in lines if check == "io"} == {
        f"{name}: key accepted" for name in SERVICES
    }


def test_a_refused_key_fails_its_service_only_and_names_it(
    config: dict[str, Any], tmp_path: Path
) -> None:
    config["io"]["services"]["tributi"]["key"] = "not-a-key"

    code, lines = doctor(config, tmp_path / "config.yaml")

    assert code == 1
    failed = [detail for verdict, _, detail in lines if verdict == "FAIL"]
    assert len(failed) == 1
    assert failed[0] == "tributi: IO refused the key (401)"


def test_a_missing_topic_and_an_unreachable_broker_are_failures(
    config: dict[str, Any], tmp_path: Path
) -> None:
    config["kafka"]["dlq_topic"] = "no-such-topic-for-doctor"
    code, lines = doctor(config, tmp_path / "missing.yaml")
    assert code == 1
    assert ["FAIL", "topics", "dlq topic no-such-topic-for-doctor: missing"] in lines

    config["kafka"]["bootstrap_servers"] = f"127.0.0.1:{free_port()}"
    code, lines = doctor(config, tmp_path / "unreachable.yaml")
    assert code == 1
    checks = {check: verdict for verdict, check, _ in lines}
    assert (checks["broker"], checks["topics"], checks["rules"]) == ("FAIL", "skip", "ok")


def test_an_invalid_configuration_is_one_failed_line(tmp_path: Path) -> None:
    code, lines = doctor({"runtime": {"max_in_flight": 0}}, tmp_path / "config.yaml")

    assert code == 1
    assert lines[0][:2] == ["FAIL", "config"]
    assert len(lines) == 1
    assert "runtime.max_in_flight" in lines[0][2]


def test_the_content_server_is_checked_as_io_would_call_it(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_content: ContentFactory,
    tmp_path: Path,
) -> None:
    sandbox = start_sandbox(rate_limit="off")
    path = tmp_path / "premium.yaml"
    config = premium_config(
        bootstrap=kafka_bootstrap,
        topics=tracking_topics(new_topic, partitions=2, tracking_partitions=2),
        content_topic=new_topic("content", config={"cleanup.policy": "compact"}),
        group="doctor",
        sandbox_url=sandbox.base_url,
        content_port=free_port(),
    )
    config["kafka"]["replay_topic"] = new_topic("replays", config={"cleanup.policy": "compact"})
    path.write_text(yaml.safe_dump(config))
    register_configuration(path)
    config = yaml.safe_load(path.read_text())
    start_content(path)

    code, lines = doctor(config, tmp_path / "doctor.yaml")
    assert code == 0, lines
    assert ["ok", "content"] in [line[:2] for line in lines]

    config["content"]["api_keys"] = [{"key": "a-key-io-was-not-given"}]
    code, lines = doctor(config, tmp_path / "wrong-key.yaml")
    assert code == 1
    assert ["FAIL", "content", "it refused content.api_keys' first key (401)"] in lines
