"""`io-relay dlq list|show|replay` on the real broker: a DLQ filled by the relay with events a
broken rule could not render, looked at, then replayed after the rule is fixed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.config import KafkaSettings
from consumer.errors import FatalError, RenderError
from consumer.events import InputRecord
from consumer.operations.dead_letters import DeadLetter, Selection, dead_letters
from consumer.operations.replay import Replayer
from consumer.operations.topic_reader import read_topic
from consumer.report.dlq import dead_letter
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.relay import EXAMPLE_RULES, REPO_ROOT, RelayTopics, fiscal_code, relay_config
from tests.fixtures.rules import tari_reminder
from tests.fixtures.sandbox import Sandbox, SandboxFactory

pytestmark = pytest.mark.kafka

EVENTS = 24


def cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "consumer", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def tari_event(index: int) -> tuple[bytes, bytes, None]:
    """A TARI notice without payee_name: valid, and fine for the example rules."""
    code = fiscal_code("A", index)
    event = {
        "specversion": "1.0",
        "id": f"replay-{index:03d}",
        "source": "urn:comune-test:tributi",
        "type": "payment_notice.issued",
        "datacontenttype": "application/json",
        "data": {
            "recipient_fiscal_code": code,
            "notice_number": f"30210{index:013d}",
            "amount_cents": 5_000 + index,
            "description": f"TARI, rata {index}",
            "payee_fiscal_code": "01199250158",
            "due_date": "2028-03-31",
            "category": "TARI",
        },
    }
    return code.encode(), json.dumps(event).encode(), None


def rules(folder: Path, payee: str) -> Path:
    """The example payment rules and a TARI reminder beside tari-notice. Broken, the reminder
    needs payee_name (its example has it, so the rules load; the events lack it): each event
    is sent by tari-notice, then dead-lettered by the reminder."""
    folder.mkdir()
    shutil.copy(EXAMPLE_RULES / "payments.yaml", folder)
    (folder / "reminder.yaml").write_text(tari_reminder(payee))
    return folder


@pytest.fixture
def setup(
    tmp_path: Path, kafka_bootstrap: str, new_topic: TopicFactory, start_sandbox: SandboxFactory
) -> tuple[dict[str, Path], RelayTopics, Sandbox]:
    topics = RelayTopics(new_topic("events", partitions=3), new_topic("status"), new_topic("dlq"))
    replays = new_topic("replays", config={"cleanup.policy": "compact"})
    profiles = {fiscal_code("A", i): {"sender_allowed": True} for i in range(EVENTS)}
    sandbox = start_sandbox(profiles=profiles, rate_limit="off")
    configs = {}
    broken = rules(tmp_path / "broken", "data.payee_name")
    fixed = rules(tmp_path / "fixed", "data.payee_name | default('')")
    for name, folder in (("broken", broken), ("fixed", fixed)):
        config: dict[str, Any] = relay_config(
            bootstrap=kafka_bootstrap,
            topics=topics,
            group=f"group-{topics.events}",
            base_url=sandbox.base_url,
        )
        config["kafka"]["replay_topic"] = replays
        config["rules"] = [str(folder)]
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(yaml.safe_dump(config))
    return configs, topics, sandbox


def relay_until_idle(config: Path) -> None:
    done = cli("run", "--config", str(config), "--exit-when-idle", "3")
    assert done.returncode == 0, done.stderr


def statuses(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.value or b"") for m in consume_all(bootstrap, topic)]


def test_dead_letters_replayed_after_a_rules_fix_are_each_sent_once(
    kafka_bootstrap: str, setup: tuple[dict[str, Path], RelayTopics, Sandbox]
) -> None:
    configs, topics, sandbox = setup
    status_topic = (kafka_bootstrap, topics.status)
    produce(kafka_bootstrap, topics.events, [tari_event(i) for i in range(EVENTS)])
    produce(kafka_bootstrap, topics.events, [(b"cut", b'{"specversion": "1.0", "id"', None)])
    relay_until_idle(configs["broken"])
    assert len(sandbox.messages()) == EVENTS  # tari-notice's
    assert len(consume_all(kafka_bootstrap, topics.dlq)) == EVENTS + 1

    listed = cli("dlq", "list", "--config", str(configs["broken"]), "--limit", "3")
    assert listed.returncode == 1, listed.stderr
    lines = listed.stdout.splitlines()
    assert len([line for line in lines if line.startswith(f"{topics.dlq}/")]) == 3
    assert f"{EVENTS + 1} dead letters, {EVENTS - 2} not printed" in lines
    counts = {line.split(maxsplit=1)[1]: int(line.split()[0]) for line in lines[-2:]}
    assert counts[next(k for k in counts if k.startswith("render:"))] == EVENTS
    assert counts[next(k for k in counts if k.startswith("decode:"))] == 1
    assert "80A01H501Z" not in listed.stdout  # the fiscal codes' common tail

    rendered = cli("dlq", "list", "--config", str(configs["broken"]), "--stage", "render")
    first = rendered.stdout.splitlines()[0].split()[0]
    shown = cli("dlq", "show", first, "--config", str(configs["broken"]))
    assert shown.returncode == 0, shown.stderr
    letter = json.loads(shown.stdout)
    assert letter["stage"] == "render"
    assert letter["event_type"] == "payment_notice.issued"
    assert letter["already_sent"] == ["tari-notice"]
    assert letter["input"]["topic"] == topics.events
    assert "io-relay.reason" in dict(letter["headers"])
    assert letter["value"]["data"]["recipient_fiscal_code"].count("*") == 10
    assert "80A01H501Z" not in shown.stdout
    short = cli("dlq", "show", first.removeprefix(f"{topics.dlq}/"), "-c", str(configs["broken"]))
    assert json.loads(short.stdout) == letter
    missing = cli("dlq", "show", "0/99999", "--config", str(configs["broken"]))
    assert (missing.returncode, missing.stderr.strip()) == (1, "no dead letter at 0/99999")
    assert cli("dlq", "show", "zero/one", "--config", str(configs["broken"])).returncode == 2

    still = cli("dlq", "replay", "--dry-run", "--config", str(configs["broken"]))
    assert still.returncode == 1
    assert still.stdout.splitlines()[-1] == f"{EVENTS + 1} would refuse"

    dry = cli("dlq", "replay", "--dry-run", "--stage", "render", "--config", str(configs["fixed"]))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    only_the_reminder = "would render: tari-reminder → tributi (tari-notice sent before, not again)"
    assert dry.stdout.count(only_the_reminder) == EVENTS
    assert len(consume_all(kafka_bootstrap, topics.events)) == EVENTS + 1  # nothing sent

    replayed = cli("dlq", "replay", "--stage", "render", "--config", str(configs["fixed"]))
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {EVENTS}, already replayed 0" in replayed.stdout
    again = cli("dlq", "replay", "--config", str(configs["fixed"]))
    assert again.returncode == 0, again.stderr
    assert "replayed 1, already replayed 24" in again.stdout  # only the undecodable one

    before = Counter((s["event_id"], s["rule"], s["outcome"]) for s in statuses(*status_topic))
    relay_until_idle(configs["fixed"])
    after = Counter((s["event_id"], s["rule"], s["outcome"]) for s in statuses(*status_topic))
    wanted: Counter[tuple[str | None, str | None, str]] = Counter(
        (f"replay-{i:03d}", "tari-reminder", "SUBMITTED") for i in range(EVENTS)
    )
    wanted[(None, None, "INVALID")] = 1  # the undecodable one, dead again
    assert after - before == wanted
    sent = Counter(
        (m["body"]["fiscal_code"], m["body"]["content"]["subject"]) for m in sandbox.messages()
    )
    assert set(sent.values()) == {1}  # nobody got a message twice
    assert len(sent) == 2 * EVENTS
    replays = consume_all(kafka_bootstrap, topics.events)
    replay_of = [dict(m.headers).get("io-relay.replay-of") for m in replays]
    assert sum(value is not None for value in replay_of) == EVENTS + 1


def test_a_second_replay_fences_the_first_out_and_no_record_is_replayed_twice(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        input_topics=[new_topic("events", partitions=2)],
        dlq_topic=new_topic("dlq"),
        replay_topic=new_topic("replays", config={"cleanup.policy": "compact"}),
    )
    # Input record 0 is dead-lettered twice (read again after a crash): one origin, two letters.
    for index in (0, 1, 2, 0):
        key, value, _ = tari_event(index)
        original = InputRecord(settings.input_topics[0], index % 2, index, key, value)
        dead = dead_letter(original, RenderError("broken", rule="tari-notice"))
        produce(kafka_bootstrap, settings.dlq_topic, [(dead.key, value, list(dead.headers))])

    def letters() -> list[DeadLetter]:
        records = read_topic(settings, settings.dlq_topic)
        return list(dead_letters(settings.dlq_topic, records, Selection()))

    first = Replayer(settings)
    second = Replayer(settings)  # same transactional id: the first is fenced out
    with pytest.raises(FatalError, match="another io-relay dlq replay started"):
        first.replay(letters())
    count = second.replay(letters())
    again = Replayer(settings).replay(letters())

    assert (count.replayed, count.already) == (3, 1)
    assert (again.replayed, again.already) == (0, 4)
    replayed = consume_all(kafka_bootstrap, settings.input_topics[0])
    assert sorted((m.partition, dict(m.headers)["io-relay.replay-of"]) for m in replayed) == [
        (0, f"{settings.dlq_topic}/0/0".encode()),
        (0, f"{settings.dlq_topic}/0/2".encode()),
        (1, f"{settings.dlq_topic}/0/1".encode()),
    ]
