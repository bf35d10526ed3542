"""What every relay benchmark needs: the local broker, fresh topics, the IO sandbox, sample
events, the relay as a subprocess with its memory sampled, and a reader of what it wrote.

Everything runs on 127.0.0.1 and is stopped by the context managers that start it. Rates
come from Kafka's own timestamps (each record's create time), so the relay's start-up and
its idle stop are not counted as work.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
RULES = REPO / "examples" / "rules"
PYTHON = sys.executable
LISTENING = re.compile(r"io sandbox listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT_S = 30.0
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

Record = tuple[bytes, bytes]
"""(key, value) of an input record."""


# -- the broker and its topics ---------------------------------------------------------------


def broker() -> str:
    """The local broker's bootstrap address, started (or found running) by kafka.sh."""
    done = subprocess.run(
        [str(KAFKA_SH), "up"], capture_output=True, text=True, check=False, timeout=240
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: cannot start the local broker:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Topics:
    events: str
    status: str
    dlq: str
    partitions: int


def new_topics(bootstrap: str, name: str, partitions: int) -> Topics:
    """Fresh topics for one run: nothing left over from an earlier one is counted."""
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        f"bench.{name}.events.{suffix}",
        f"bench.{name}.status.{suffix}",
        f"bench.{name}.dlq.{suffix}",
        partitions,
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = [
        NewTopic(topics.events, partitions, 1),
        NewTopic(topics.status, partitions, 1),
        NewTopic(topics.dlq, 1, 1),
    ]
    for future in admin.create_topics(wanted).values():
        future.result(30)
    return topics


def delete_topics(bootstrap: str, topics: Topics) -> None:
    """Give the disk back: a million-event topic is hundreds of megabytes."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([topics.events, topics.status, topics.dlq]).values():
        with suppress(KafkaException):
            future.result(30)


def produce(bootstrap: str, topic: str, records: Iterable[Record]) -> int:
    """As fast as the broker takes them; returns how many were acknowledged."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    acked = 0

    def on_delivery(error: Any, _message: Any) -> None:
        nonlocal acked
        if error is None:
            acked += 1

    for key, value in records:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)
    return acked


def produce_paced(bootstrap: str, topic: str, records: Sequence[Record], per_s: float) -> None:
    """At a steady rate, for latency: a backlog would measure only its own length."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    started = time.monotonic()
    for index, (key, value) in enumerate(records):
        delay = started + index / per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.produce(topic, value=value, key=key)
        producer.poll(0)
    producer.flush(60)


@dataclass(frozen=True)
class Read:
    """A record read back: its create time and value."""

    timestamp_ms: int
    partition: int
    offset: int
    value: bytes


def reader(bootstrap: str, topic: str, name: str) -> Consumer:
    """A consumer of `topic` from its start, in a group of its own, committing nothing."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{name}-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    return consumer


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 120.0) -> list[Read]:
    """Every record of `topic` (until `expected` are read or nothing more comes)."""
    consumer = reader(bootstrap, topic, "bench-reader")
    found: list[Read] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 1.0):
                if message.error() is None:
                    _, timestamp = message.timestamp()
                    found.append(
                        Read(
                            timestamp,
                            message.partition() or 0,
                            message.offset() or 0,
                            message.value() or b"",
                        )
                    )
    finally:
        consumer.close()
    return found


def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    """Records in the topic (sum of high watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-offsets"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


# -- sample events ---------------------------------------------------------------------------


def fiscal_code(index: int) -> str:
    """A distinct code matching IO's pattern: six letters from `index`, a fixed tail."""
    letters = "".join(_LETTERS[(index // 26**power) % 26] for power in range(5, -1, -1))
    return f"{letters}80A01H501U"


def _envelope(event_id: str, event_type: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:bench:tributi",
            "type": event_type,
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


def internal_document(index: int) -> Record:
    """A valid event that no example rule sends (documents of category `internal`)."""
    code = fiscal_code(index % 50_000)
    data = {
        "recipient_fiscal_code": code,
        "document_id": f"PROT-2026-{index:09d}",
        "title": "Copia interna di protocollo",
        "category": "internal",
    }
    return code.encode(), _envelope(f"filter-{index:09d}", "document.ready", data)


def tari_notice(index: int, citizen: int) -> Record:
    """A TARI notice the example rules send (a profile check, then a submit)."""
    code = fiscal_code(citizen)
    data = {
        "recipient_fiscal_code": code,
        "notice_number": f"3020{index:014d}",
        "amount_cents": 10_000 + index % 90_000,
        "description": "TARI 2026, prima rata",
        "payee_fiscal_code": "01199250158",
        "payee_name": "Comune di Demo",
        "due_date": "2027-03-31",
        "category": "TARI",
        "iuv": f"02{index:015d}",
    }
    return code.encode(), _envelope(f"notice-{index:09d}", "payment_notice.issued", data)


def profiles(citizens: int) -> dict[str, Any]:
    return {
        fiscal_code(i): {"sender_allowed": True, "preferred_languages": ["it_IT"]}
        for i in range(citizens)
    }


# -- the IO sandbox --------------------------------------------------------------------------


@contextmanager
def sandbox(
    workdir: Path, citizens: int, *, rate_limit: str = "off", latency_ms: int = 0
) -> Iterator[str]:
    """The IO sandbox as a subprocess; yields its base URL."""
    profiles_file = workdir / "profiles.json"
    profiles_file.write_text(json.dumps(profiles(citizens)))
    log = workdir / "sandbox.log"
    command = [
        PYTHON, "-m", "consumer", "sandbox", "--port", "0", "--profiles", str(profiles_file),
        "--rate-limit", rate_limit, "--latency-ms", str(latency_ms),
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        yield sandbox_url(log, process)
    finally:
        process.terminate()
        process.wait(10)


def sandbox_url(log: Path, process: subprocess.Popen[bytes]) -> str:
    """The base URL a starting sandbox prints to `log`; exits the benchmark if it never does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text())
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise SystemExit(f"bench: the sandbox exited:\n{log.read_text()}")
        time.sleep(0.05)
    raise SystemExit(f"bench: the sandbox did not start:\n{log.read_text()}")


# -- the relay -------------------------------------------------------------------------------


def relay_config(
    path: Path,
    bootstrap: str,
    topics: Topics,
    base_url: str,
    *,
    max_in_flight: int = 256,
    calls: int = 1_000_000,
    per_seconds: float = 1.0,
    tracking_topic: str | None = None,
    tracking: dict[str, Any] | None = None,
) -> Path:
    """The example rules and services; one account with the given gateway policy; message
    tracking only with a `tracking_topic` (and its `tracking` settings)."""
    kafka: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": f"bench-{topics.events}",
        "input_topics": [topics.events],
        "status_topic": topics.status,
        "dlq_topic": topics.dlq,
    }
    if tracking_topic is not None:
        kafka["tracking_topic"] = tracking_topic
    config = {
        "kafka": kafka,
        "io": {
            "base_url": base_url,
            "accounts": {"bench": {"calls": calls, "per_seconds": per_seconds}},
            "services": {
                name: {"account": "bench", "key": f"sandbox-key-{name}"}
                for name in ("tari", "tributi", "documenti")
            },
        },
        "rules": [str(RULES)],
        "runtime": {"max_in_flight": max_in_flight},
        # Off unless asked: the delivery figures would not count checks 30 s after a run.
        "tracking": {"enabled": tracking_topic is not None, **(tracking or {})},
        "observability": {"port": 0},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class RelayRun:
    exit_code: int
    wall_s: float
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since start, resident bytes), every quarter of a second."""
    peak_rss: int = 0
    """The kernel's high-water mark (VmHWM), which sampling cannot miss."""


def run_relay(
    config: Path,
    log: Path,
    *,
    idle_s: float = 3.0,
    while_running: Callable[[], None] | None = None,
) -> RelayRun:
    """`io-relay run` until it has been idle for `idle_s`; its memory sampled meanwhile.

    `while_running` runs in a thread once the relay owns its partitions (to feed it live).
    """
    command = [
        PYTHON, "-m", "consumer", "run", "--config", str(config),
        "--exit-when-idle", str(idle_s),
    ]  # fmt: skip
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    run = RelayRun(exit_code=-1, wall_s=0.0)

    def sample() -> None:
        while process.poll() is None:
            rss, peak = _memory(process.pid)
            if rss:
                run.rss_samples.append((time.monotonic() - started, rss))
                run.peak_rss = max(run.peak_rss, peak)
            time.sleep(0.25)

    def feed() -> None:
        while process.poll() is None and "partitions assigned" not in log.read_text():
            time.sleep(0.05)
        if while_running is not None and process.poll() is None:
            while_running()

    helpers = [threading.Thread(target=sample, daemon=True), threading.Thread(target=feed)]
    for helper in helpers:
        helper.start()
    run.exit_code = process.wait()
    for helper in helpers:
        helper.join()
    run.wall_s = time.monotonic() - started
    if run.exit_code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(f"bench: io-relay exited with {run.exit_code}:\n{tail}")
    return run


def _memory(pid: int) -> tuple[int, int]:
    """Resident and peak resident bytes of a process (0, 0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kib(name: str) -> int:
        return int(values.get(name, "0 kB").split()[0]) * 1024

    return kib("VmRSS"), kib("VmHWM")


# -- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rate(count: int, timestamps_ms: Sequence[int]) -> float:
    """Records per second between the first and the last timestamp."""
    span_s = (max(timestamps_ms) - min(timestamps_ms)) / 1000 if timestamps_ms else 0.0
    return count / span_s if span_s > 0 else float("inf")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table."""

    scenario: str
    figure: str
    value: str
    target: str = ""
    met: bool | None = None
    number: float | None = None
    """The value as a number, for figures compared against the baseline."""


def cores() -> int:
    return len(os.sched_getaffinity(0))


def sandbox_stats(base_url: str) -> dict[str, Any]:
    """`{"requests": {route: {status: n}}, "rate_limited": n, ...}` from the sandbox."""
    return dict(httpx.get(f"{base_url}/__sandbox/stats", timeout=10).raise_for_status().json())


def calls(stats: dict[str, Any]) -> int:
    """Every request the sandbox answered (refusals included)."""
    return sum(sum(counts.values()) for counts in stats["requests"].values())
