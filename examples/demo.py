"""`make demo`: the sample events through a real broker, the real relay and the IO sandbox.

1. recreate the demo topics (a clean slate each run) and forget the demo group's offsets;
2. start the IO sandbox with examples/profiles.yaml;
3. produce examples/events/* (`*.binary.json` as binary-mode CloudEvents);
4. run `io-relay run --config examples/config.yaml` until it has been idle for a moment;
5. print one line per event from the status topic, and the dead letters.

The broker must be up (`make kafka-up`); its address comes from KAFKA_BOOTSTRAP.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "config.yaml"
EVENTS = HERE / "events"
PROFILES = HERE / "profiles.yaml"
RELAY_LOG = HERE.parent / ".cache" / "demo-relay.log"
IDLE_S = 3.0
IO_RELAY = [sys.executable, "-m", "consumer"]  # the venv's own io-relay, PATH or not


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    kafka = yaml.safe_load(CONFIG.read_text())["kafka"]
    input_topic = kafka["input_topics"][0]
    reset_topics(bootstrap, [input_topic, kafka["status_topic"], kafka["dlq_topic"]])
    forget_group(bootstrap, kafka["group_id"])
    port = free_port()
    sandbox = start_sandbox(port)
    try:
        files = produce_events(bootstrap, input_topic)
        print(f"demo: produced {len(files)} sample events to {input_topic}", file=sys.stderr)
        code = run_relay(bootstrap, port)
        if code != 0:
            print(f"demo: io-relay exited with {code}; its log: {RELAY_LOG}", file=sys.stderr)
            return code
        statuses = read_topic(bootstrap, kafka["status_topic"])
        dead = read_topic(bootstrap, kafka["dlq_topic"])
        accepted = get_json(f"http://127.0.0.1:{port}/__sandbox/messages")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print_report(files, statuses, dead, accepted)
    return 0


def reset_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [topic for topic in topics if topic in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()
    deadline = time.monotonic() + 30
    while set(doomed) & set(admin.list_topics(timeout=10).topics):
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: topics {doomed} are still being deleted")
        time.sleep(0.2)
    fresh = [NewTopic(topic, num_partitions=3, replication_factor=1) for topic in topics]
    for future in admin.create_topics(fresh, operation_timeout=30).values():
        future.result()


def forget_group(bootstrap: str, group_id: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_consumer_groups([group_id], request_timeout=10).values():
        with contextlib.suppress(KafkaException):  # a group not there yet: nothing to forget
            future.result()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    sandbox = subprocess.Popen(
        [
            *IO_RELAY,
            "sandbox",
            "--port",
            str(port),
            "--profiles",
            str(PROFILES),
            "--processing-delay-ms",
            "500",
        ],
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            get_json(f"http://127.0.0.1:{port}/__sandbox/health")
            return sandbox
        except httpx.TransportError:
            time.sleep(0.1)
    sandbox.kill()
    raise SystemExit("demo: the IO sandbox did not start within 20 s")


def produce_events(bootstrap: str, topic: str) -> dict[tuple[int, int], str]:
    """Produce every sample file; return which file landed at each (partition, offset)."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    landed: dict[tuple[int, int], str] = {}

    def remember(name: str) -> Any:
        def on_delivery(error: Any, message: Any) -> None:
            if error is None:
                landed[(message.partition(), message.offset())] = name

        return on_delivery

    for path in sorted(EVENTS.iterdir()):
        name = path.name.split(".")[0]
        if path.name.endswith(".binary.json"):
            record = json.loads(path.read_text())
            headers = [(key, value.encode()) for key, value in record["headers"].items()]
            value = json.dumps(record["data"]).encode()
        else:
            headers, value = [], path.read_bytes()
        producer.produce(topic, value, name.encode(), headers=headers, on_delivery=remember(name))
    if producer.flush(30) or len(landed) != len(list(EVENTS.iterdir())):
        raise SystemExit("demo: the broker did not acknowledge every sample event")
    return landed


def run_relay(bootstrap: str, sandbox_port: int) -> int:
    env = {
        **os.environ,
        "IO_RELAY_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "IO_RELAY_IO__BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        # A port of its own: a relay left running elsewhere may hold 9400.
        "IO_RELAY_OBSERVABILITY__PORT": str(free_port()),
    }
    command = [*IO_RELAY, "run", "--config", str(CONFIG), "--exit-when-idle", str(IDLE_S)]
    RELAY_LOG.parent.mkdir(exist_ok=True)
    with RELAY_LOG.open("w") as log:
        return subprocess.run(command, env=env, check=False, stderr=log).returncode


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"demo-reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Any] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 2.0:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            records.append(message)
            quiet_since = time.monotonic()
    consumer.close()
    return records


def get_json(url: str) -> Any:
    return httpx.get(url, timeout=5).raise_for_status().json()


def print_report(
    files: dict[tuple[int, int], str], statuses: list[Any], dead: list[Any], accepted: list[Any]
) -> None:
    """One line per status record, in the order of the sample files."""
    rows = [json.loads(message.value()) for message in statuses]
    rows.sort(key=lambda s: files.get((s["input"]["partition"], s["input"]["offset"]), "?"))
    print(f"\n{'file':<22} {'event':<10} {'rule':<15} {'outcome':<28} detail")
    for status in rows:
        file = files.get((status["input"]["partition"], status["input"]["offset"]), "?")
        detail = status["io_message_id"] or (status["error"] or {}).get("detail") or ""
        print(
            f"{file:<22} {status['event_id'] or '-':<10} {status['rule'] or '-':<15} "
            f"{status['outcome']:<28} {detail}"
        )
    print(
        f"\n{len(rows)} status records, {len(dead)} dead letters, "
        f"{len(accepted)} messages accepted by the IO sandbox"
    )
    for message in dead:
        headers = dict(message.headers() or [])
        reason = headers.get("io-relay.reason", b"").decode()
        print(f"  dead letter {message.key().decode()}: {reason}")


if __name__ == "__main__":
    sys.exit(main())
