"""Tracking book: the memory of a replica that follows many messages.

A compacted tracking topic holds N messages under tracking (Premium notices, next check a
day away), as io-relay writes them; io-relay starts, reads them all into its book and idles.
Printed: its peak RSS with an empty topic and with N held, the memory each held message
costs, and how fast the book fills. The default N is `tracking.max_held`'s default: the most
one replica holds before it pauses its tracking partitions. The Deployment's memory limit is
256 MiB.

    .venv/bin/python -m bench.tracking_book [--messages 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from bench.harness import (
    Record,
    Row,
    broker,
    delete_topics,
    fiscal_code,
    new_topics,
    produce,
    relay_config,
    run_relay,
)
from consumer.config import TrackingSettings
from consumer.report import InputPosition
from consumer.track import TrackingRecord

PARTITIONS = 4
LIMIT_MB = 256


def tracked(index: int, now: datetime) -> Record:
    """A Premium notice processed and unread, its next check a day away."""
    record = TrackingRecord(
        message_id=f"01J{index:023d}",
        service="tari",
        fiscal_code=fiscal_code(index),
        event_id=f"bench-{index:09d}",
        event_type="payment_notice.issued",
        rule="tari-notice",
        input=InputPosition(topic="bench.events", partition=index % PARTITIONS, offset=index),
        submitted_at=now,
        advanced=True,
        pays=True,
        due_date=now + timedelta(days=60),
        seen={"status": "PROCESSED"},
        checks=5,
        next_check_at=now + timedelta(days=1),
    )
    return record.key(), record.to_bytes()


def messages(count: int) -> Iterator[Record]:
    now = datetime.now(UTC)
    return (tracked(index, now) for index in range(count))


def peak(bootstrap: str, count: int) -> tuple[float, float]:
    """Peak RSS (MiB) of io-relay holding `count` tracked messages, and the run's seconds."""
    topics = new_topics(bootstrap, "tracking", PARTITIONS)
    tracking_topic = f"bench.tracking.book.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    compacted = NewTopic(tracking_topic, PARTITIONS, 1, config={"cleanup.policy": "compact"})
    for future in admin.create_topics([compacted]).values():
        future.result(30)
    try:
        produced = produce(bootstrap, tracking_topic, messages(count))
        assert produced == count, f"only {produced} of {count} tracking records acknowledged"
        with tempfile.TemporaryDirectory(prefix="bench-tracking-") as workdir:
            config = relay_config(
                Path(workdir) / "relay.yaml",
                bootstrap,
                topics,
                "http://127.0.0.1:9",  # no check falls due: IO is never called
                tracking_topic=tracking_topic,
                tracking={"max_held": max(count, 100)},  # full: the most a replica holds
            )
            run = run_relay(config, Path(workdir) / "relay.log")
    finally:
        delete_topics(bootstrap, topics)
        for future in admin.delete_topics([tracking_topic]).values():
            with suppress(KafkaException):
                future.result(30)
    return run.peak_rss / 2**20, run.wall_s


def measure(count: int) -> list[Row]:
    bootstrap = broker()
    empty_mb, _ = peak(bootstrap, 0)
    full_mb, wall_s = peak(bootstrap, count)
    per_message_kb = (full_mb - empty_mb) * 1024 / count
    name = f"tracking: {count:,} messages held"
    return [
        Row(name, "io-relay peak RSS, nothing held", f"{empty_mb:.0f} MB"),
        Row(
            name,
            "io-relay peak RSS, all held",
            f"{full_mb:.0f} MB",
            f"< {LIMIT_MB} MB",
            full_mb < LIMIT_MB,
        ),
        Row(name, "memory per message held", f"{per_message_kb:.2f} KB"),
        Row(name, "run (start, read all, idle exit)", f"{wall_s:.0f} s"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=TrackingSettings().max_held)
    options = parser.parse_args(argv)
    for row in measure(options.messages):
        print(f"{row.scenario:<34} {row.figure:<34} {row.value:>10}  {row.target}")


if __name__ == "__main__":
    main()
