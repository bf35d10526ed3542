"""`io-relay topics create|check` against the real broker, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka.admin import AdminClient

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.ports import free_port
from tests.fixtures.relay import REPO_ROOT

pytestmark = pytest.mark.kafka


def io_relay(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer", "topics", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )


def write_config(path: Path, bootstrap: str, names: dict[str, str]) -> Path:
    kafka = {
        "bootstrap_servers": bootstrap,
        "input_topics": [names["input"]],
        "status_topic": names["status"],
        "dlq_topic": names["dlq"],
        "tracking_topic": names["tracking"],
        "replay_topic": names["replay"],
    }
    path.write_text(yaml.safe_dump({"kafka": kafka}))
    return path


@pytest.fixture
def names(new_topic: TopicFactory) -> dict[str, str]:
    """Fresh names; whatever the commands create is deleted at teardown."""
    chosen = {role: f"{role}-{uuid.uuid4().hex[:12]}" for role in ("input", "status", "dlq")}
    chosen["tracking"] = f"tracking-{uuid.uuid4().hex[:12]}"
    chosen["replay"] = f"replay-{uuid.uuid4().hex[:12]}"
    new_topic.created.extend(chosen.values())
    return chosen


def test_create_on_a_fresh_broker_then_check_finds_everything_as_needed(
    kafka_bootstrap: str, kafka_admin: AdminClient, names: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", kafka_bootstrap, names)

    before = io_relay("check", "--config", str(config))
    created = io_relay("create", "--config", str(config), "--partitions", "2")
    again = io_relay("create", "--config", str(config))
    after = io_relay("check", "--config", str(config))

    assert before.returncode == 1, before.stderr
    assert sum("missing" in line for line in before.stdout.splitlines()) == 5
    assert created.returncode == 0, created.stdout + created.stderr
    assert sorted(
        line.split()[1] for line in created.stdout.splitlines() if line.startswith("created")
    ) == sorted(names.values())
    assert again.returncode == 0, again.stdout + again.stderr
    assert not any(line.startswith("created") for line in again.stdout.splitlines())
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"tracking {names['tracking']}: 2 partitions, cleanup.policy=compact" in after.stdout
    assert f"status   {names['status']}: 2 partitions, cleanup.policy=delete" in after.stdout
    assert f"replay   {names['replay']}: 2 partitions, cleanup.policy=compact" in after.stdout


def test_check_reports_a_compacted_status_topic_and_more_status_than_input_partitions(
    kafka_bootstrap: str, new_topic: TopicFactory, names: dict[str, str], tmp_path: Path
) -> None:
    names = {
        **names,
        "input": new_topic("input", partitions=2),
        "status": new_topic("status", partitions=4, config={"cleanup.policy": "compact"}),
        "dlq": new_topic("dlq"),
        "tracking": new_topic("tracking", config={"cleanup.policy": "delete"}),
        "replay": new_topic("replay", config={"cleanup.policy": "compact"}),
    }
    config = write_config(tmp_path / "config.yaml", kafka_bootstrap, names)

    checked = io_relay("check", "--config", str(config))

    assert checked.returncode == 1
    problems = [line for line in checked.stdout.splitlines() if line.startswith("problem:")]
    assert len(problems) == 3, checked.stdout
    assert any(f"status topic {names['status']}: cleanup.policy is compact" in p for p in problems)
    assert any(
        f"tracking topic {names['tracking']}: cleanup.policy is delete" in p for p in problems
    )
    assert any("4 partitions, more than the largest input topic's 2" in p for p in problems)


def test_an_unreachable_broker_is_exit_2_with_a_message(tmp_path: Path) -> None:
    names = {role: role for role in ("input", "status", "dlq", "tracking", "replay")}
    config = write_config(tmp_path / "config.yaml", f"127.0.0.1:{free_port()}", names)

    checked = io_relay("check", "--config", str(config))

    assert checked.returncode == 2
    assert "cannot reach the brokers" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_kafka_client_settings_librdkafka_refuses_are_exit_2_not_a_traceback(
    tmp_path: Path,
) -> None:
    names = {role: role for role in ("input", "status", "dlq", "tracking", "replay")}
    config = write_config(tmp_path / "config.yaml", "127.0.0.1:9", names)
    document = yaml.safe_load(config.read_text())
    document["kafka"]["client"] = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "BOGUS"}
    config.write_text(yaml.safe_dump(document))

    checked = io_relay("check", "--config", str(config))

    assert checked.returncode == 2
    assert checked.stderr.startswith("io-relay topics: kafka.client:")
    assert "Traceback" not in checked.stderr
