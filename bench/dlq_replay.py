"""DLQ replay: how fast `io-relay dlq replay` sends dead letters back, and what a rerun costs.

N dead letters (TARI notices, as the relay writes them after a render error) sit in a DLQ.
Measured in the same run, on the same broker:

- baseline: the bare copy, every DLQ record read and produced to another topic by a plain
  idempotent producer, flushed: the least any replay must do;
- `io-relay dlq replay`, the whole command as an operator runs it (interpreter start, the
  ledger read, one transaction per 1,000 letters with the ledger entries);
- the same command again: every letter already replayed, nothing sent.

    .venv/bin/python -m bench.dlq_replay [--letters 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from bench.harness import REPO, Row, broker, tari_notice
from consumer.config import KafkaSettings
from consumer.errors import RenderError
from consumer.events import InputRecord
from consumer.operations.topic_reader import read_topic
from consumer.report.dlq import dead_letter

PARTITIONS = 3


def fill_dlq(bootstrap: str, events: str, dlq: str, letters: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for index in range(letters):
        key, value = tari_notice(index, index % 5_000)
        original = InputRecord(events, index % PARTITIONS, index // PARTITIONS, key, value)
        dead = dead_letter(original, RenderError("'payee_name' is undefined", rule="tari-notice"))
        producer.produce(dlq, key=dead.key, value=dead.value, headers=list(dead.headers))
        producer.poll(0)
    producer.flush(120)


def bare_copy(settings: KafkaSettings, target: str) -> float:
    """Seconds to read the DLQ and produce each record to `target`, acknowledged."""
    started = time.perf_counter()
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 20})
    for record in read_topic(settings, settings.dlq_topic):
        producer.produce(target, key=record.key, value=record.value, headers=list(record.headers))
        producer.poll(0)
    producer.flush(120)
    return time.perf_counter() - started


def replay_command(config: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "dlq", "replay", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: dlq replay failed:\n{done.stderr}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def run(letters: int) -> list[Row]:
    bootstrap = broker()
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"bench.replay.{role}.{suffix}" for role in ("events", "dlq", "copy", "ledger")}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    compact = {"cleanup.policy": "compact"}
    wanted = [
        NewTopic(names["events"], PARTITIONS, 1),
        NewTopic(names["dlq"], PARTITIONS, 1),
        NewTopic(names["copy"], PARTITIONS, 1),
        NewTopic(names["ledger"], 1, 1, config=compact),
    ]
    for future in admin.create_topics(wanted).values():
        future.result(30)
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        input_topics=[names["events"]],
        dlq_topic=names["dlq"],
        replay_topic=names["ledger"],
    )
    try:
        fill_dlq(bootstrap, names["events"], names["dlq"], letters)
        baseline_s = bare_copy(settings, names["copy"])
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "config.yaml"
            kafka = settings.model_dump(include={"bootstrap_servers", "input_topics"})
            kafka |= {"dlq_topic": names["dlq"], "replay_topic": names["ledger"]}
            config.write_text(yaml.safe_dump({"kafka": kafka}))
            first_s, first = replay_command(config)
            again_s, again = replay_command(config)
    finally:
        for future in admin.delete_topics(list(names.values())).values():
            future.result(30)
    if first != f"replayed {letters}, already replayed 0":
        raise SystemExit(f"bench: the first replay said {first!r}")
    if again != f"replayed 0, already replayed {letters}":
        raise SystemExit(f"bench: the second replay said {again!r}")
    scenario = f"dlq replay, {letters:,} letters"
    return [
        Row(scenario, "bare copy (baseline)", f"{letters / baseline_s:,.0f}/s"),
        Row(
            scenario,
            "io-relay dlq replay",
            f"{letters / first_s:,.0f}/s",
            number=(letters / first_s) / (letters / baseline_s),
        ),
        Row(scenario, "  ratio to the bare copy", f"{baseline_s / first_s:.2f}"),
        Row(scenario, "rerun, all already replayed", f"{again_s:.1f} s"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000)
    options = parser.parse_args(argv)
    for row in run(options.letters):
        print(f"{row.scenario:<28} {row.figure:<30} {row.value:>12}  {row.target}")


if __name__ == "__main__":
    main()
