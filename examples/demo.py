"""`make demo`: the sample events through a real broker, the real relay and the IO sandbox.

1. recreate the demo topics (a clean slate each run; the tracking topic compacted) and forget
   the demo group's offsets;
2. start the IO sandbox with examples/profiles.yaml; register the remote-content
   configuration and start `io-relay content` (demo_premium.py);
3. produce examples/events/* (`*.binary.json` as binary-mode CloudEvents);
4. start `io-relay run --config examples/config.yaml` in the background;
5. play the citizen: every Premium (ADVANCED) message the sandbox accepted is marked READ, and
   PAID when it carries a payment notice;
6. wait until every SUBMITTED message has its lifecycle records on the status topic (PROCESSED;
   READ and PAID for Premium ones), then stop the relay with SIGTERM;
7. print one line per status record, each event's lifecycle after its delivery, and the dead
   letters; then open each message with attachments as the citizen, and print each PDF's
   name and size;
8. write, with `io-relay preview`, a page per message IO accepted, as the citizen's app shows
   it, and print where they are.

The broker must be up (`make kafka-up`); its address comes from KAFKA_BOOTSTRAP.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
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
from demo_premium import (
    open_attachments,
    premium_environment,
    register_configuration,
    start_content,
)

from consumer.events.files import read_event_file

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "config.yaml"
EVENTS = HERE / "events"
PROFILES = HERE / "profiles.yaml"
RELAY_LOG = HERE.parent / ".cache" / "demo-relay.log"
CONTENT_LOG = HERE.parent / ".cache" / "demo-content.log"
PREVIEWS = HERE.parent / ".cache" / "demo-previews"
LIFECYCLE_TIMEOUT_S = 60.0  # config.yaml's tracking schedule checks after 1, 3, 6, 9... s
IO_RELAY = [sys.executable, "-m", "consumer"]  # the venv's own io-relay, PATH or not
# The report's order within an event: its delivery, then what IO said of the message later.
STAGES = ("DELIVERY", "PROCESSING", "READING", "PAYMENT")


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    kafka = yaml.safe_load(CONFIG.read_text())["kafka"]
    input_topic = kafka["input_topics"][0]
    reset_topics(
        bootstrap,
        [input_topic, kafka["status_topic"], kafka["dlq_topic"]],
        compacted=[kafka["tracking_topic"], kafka["content_topic"], kafka["replay_topic"]],
    )
    forget_group(bootstrap, kafka["group_id"])
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    sandbox = start_sandbox(port)
    try:
        env = {
            **os.environ,
            "IO_RELAY_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "IO_RELAY_IO__BASE_URL": sandbox_url,
            **premium_environment(sandbox_url, free_port(), free_port()),
        }
        env.update(register_configuration(IO_RELAY, CONFIG, env))
        content = start_content(IO_RELAY, CONFIG, env, CONTENT_LOG)
        try:
            files = produce_events(bootstrap, input_topic)
            print(f"demo: produced {len(files)} sample events to {input_topic}", file=sys.stderr)
            relay = start_relay(env)
            try:
                statuses = follow_lifecycles(
                    bootstrap, kafka["status_topic"], sandbox_url, relay, files
                )
            finally:
                code = stop_relay(relay)
            if code != 0:
                print(f"demo: io-relay exited with {code}; its log: {RELAY_LOG}", file=sys.stderr)
                return code
            dead = read_topic(bootstrap, kafka["dlq_topic"])
            accepted = get_json(f"{sandbox_url}/__sandbox/messages")
            downloads = open_attachments(sandbox_url, accepted)
        finally:
            content.terminate()
            content.wait(timeout=20)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print_report(files, statuses, dead, accepted)
    print(f"\nthe citizen opened {len(downloads)} attachment(s) through io-relay content:")
    print("\n".join(downloads))
    return write_previews(files, statuses, env)


def write_previews(
    files: dict[tuple[int, int], str], statuses: list[dict[str, Any]], env: dict[str, str]
) -> int:
    """`io-relay preview` of the events whose messages IO accepted: what the app shows."""
    submitted = sorted(
        {
            files[(status["input"]["partition"], status["input"]["offset"])]
            for status in statuses
            if status["outcome"] == "SUBMITTED"
        }
    )
    events = [next(EVENTS.glob(f"{name}.*")) for name in submitted]
    shutil.rmtree(PREVIEWS, ignore_errors=True)
    command = [*IO_RELAY, "preview", "--config", str(CONFIG), "--out", str(PREVIEWS)]
    command += [argument for path in events for argument in ("--event", str(path))]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(
            f"demo: io-relay preview exited with {done.returncode}:\n{done.stderr}", file=sys.stderr
        )
        return done.returncode
    pages = done.stdout.splitlines()[:-1]  # the last line names the index
    root = HERE.parent
    print(f"\nwhat the citizen's app shows, {len(pages)} message(s) (io-relay preview):")
    for page in pages:
        print(f"  {Path(page).relative_to(root)}")
    print(f"  index: {(PREVIEWS / 'index.html').relative_to(root)}")
    return 0


def reset_topics(bootstrap: str, topics: list[str], compacted: list[str]) -> None:
    """Delete and create the topics, 3 partitions each; `compacted` ones keep the last record
    of each key (the tracking topic: one record per message under tracking)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [topic for topic in [*topics, *compacted] if topic in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()
    deadline = time.monotonic() + 30
    while set(doomed) & set(admin.list_topics(timeout=10).topics):
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: topics {doomed} are still being deleted")
        time.sleep(0.2)
    fresh = [NewTopic(topic, num_partitions=3, replication_factor=1) for topic in topics]
    fresh += [
        NewTopic(
            topic, num_partitions=3, replication_factor=1, config={"cleanup.policy": "compact"}
        )
        for topic in compacted
    ]
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
        record = read_event_file(path)  # a `*.binary.json` as headers and data, as render reads it
        producer.produce(
            topic,
            record.value,
            name.encode(),
            headers=list(record.headers),
            on_delivery=remember(name),
        )
    if producer.flush(30) or len(landed) != len(list(EVENTS.iterdir())):
        raise SystemExit("demo: the broker did not acknowledge every sample event")
    return landed


def start_relay(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`io-relay run` in the background, its log in RELAY_LOG; it runs until SIGTERM."""
    # A port of its own: a relay left running elsewhere may hold 9400.
    env = {**env, "IO_RELAY_OBSERVABILITY__PORT": str(free_port())}
    RELAY_LOG.parent.mkdir(exist_ok=True)
    with RELAY_LOG.open("w") as log:
        command = [*IO_RELAY, "run", "--config", str(CONFIG)]
        return subprocess.Popen(command, env=env, stderr=log)


def stop_relay(relay: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as Kubernetes would: the relay finishes what it holds and exits 0."""
    if relay.poll() is None:
        relay.send_signal(signal.SIGTERM)
    try:
        return relay.wait(timeout=45)
    except subprocess.TimeoutExpired:
        relay.kill()
        print("demo: io-relay did not stop within 45 s of SIGTERM", file=sys.stderr)
        return relay.wait()


def follow_lifecycles(
    bootstrap: str,
    status_topic: str,
    sandbox_url: str,
    relay: subprocess.Popen[bytes],
    files: dict[tuple[int, int], str],
) -> list[dict[str, Any]]:
    """Read the status topic while the relay runs, acting as the citizens meanwhile, until it
    holds every record `awaited` lists; return every status record read."""
    consumer = reader_from_start(bootstrap, status_topic)
    statuses: list[dict[str, Any]] = []
    marked: set[str] = set()
    deadline = time.monotonic() + LIFECYCLE_TIMEOUT_S
    try:
        while True:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                value = message.value()
                assert value is not None, "a status record always has a value"
                statuses.append(json.loads(value))
                continue  # read what is there before asking the sandbox
            accepted = get_json(f"{sandbox_url}/__sandbox/messages")
            read_and_pay(sandbox_url, accepted, marked)
            missing = awaited(files, statuses, accepted)
            if not missing:
                return statuses
            if relay.poll() is not None:
                raise SystemExit(f"demo: io-relay exited with {relay.returncode}; see {RELAY_LOG}")
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"demo: after {LIFECYCLE_TIMEOUT_S:.0f} s the status topic still lacks "
                    + "; ".join(missing)
                    + f" (the relay's log: {RELAY_LOG})"
                )
    finally:
        consumer.close()


def read_and_pay(sandbox_url: str, accepted: list[Any], marked: set[str]) -> None:
    """What a citizen does in the app, told to the sandbox: each Premium message not marked yet
    is read, and paid when it is a payment notice. IO reports both on getMessage."""
    for message in accepted:
        body = message["body"]
        if message["id"] in marked or body.get("feature_level_type") != "ADVANCED":
            continue
        marks = {"read_status": "READ"}
        if body["content"].get("payment_data"):
            marks["payment_status"] = "PAID"
        url = f"{sandbox_url}/__sandbox/messages/{message['id']}"
        answer = httpx.patch(url, json=marks, timeout=5)
        if answer.status_code == 409:
            raise SystemExit(
                f"demo: the sandbox refused {marks} for {message['id']}: {answer.text}"
            )
        answer.raise_for_status()
        marked.add(message["id"])
        print(f"demo: the citizen read {message['id']}", file=sys.stderr)
        if "payment_status" in marks:
            print(f"demo: the citizen paid {message['id']}", file=sys.stderr)


def awaited(
    files: dict[tuple[int, int], str], statuses: list[dict[str, Any]], accepted: list[Any]
) -> list[str]:
    """The status records not there yet: a delivery record for every sample event, then for
    every SUBMITTED message PROCESSED, and READ (Premium) and PAID (Premium with payment data)."""

    def position(status: dict[str, Any]) -> tuple[int, int]:
        return status["input"]["partition"], status["input"]["offset"]

    delivered = {position(status) for status in statuses if status["stage"] == "DELIVERY"}
    missing = [f"the delivery of {file}" for at, file in files.items() if at not in delivered]
    bodies = {message["id"]: message["body"] for message in accepted}
    seen = {(status["io_message_id"], status["outcome"]) for status in statuses}
    for status in statuses:
        if status["outcome"] != "SUBMITTED":
            continue
        message_id = status["io_message_id"]
        body = bodies[message_id]
        wanted = ["PROCESSED"]
        if body.get("feature_level_type") == "ADVANCED":
            wanted.append("READ")
            if body["content"].get("payment_data"):
                wanted.append("PAID")
        missing += [
            f"{outcome} of {files.get(position(status), '?')} (IO message {message_id})"
            for outcome in wanted
            if (message_id, outcome) not in seen
        ]
    return missing


def reader_from_start(bootstrap: str, topic: str) -> Consumer:
    """A consumer of `topic` from its beginning, in a group of its own."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"demo-reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    return consumer


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic`: read until 2 s pass without a new one."""
    consumer = reader_from_start(bootstrap, topic)
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
    files: dict[tuple[int, int], str],
    statuses: list[dict[str, Any]],
    dead: list[Any],
    accepted: list[Any],
) -> None:
    """One line per status record, in the order of the sample files; within a file, the delivery
    record first, then the message's lifecycle (processing, reading, payment)."""

    def file_of(status: dict[str, Any]) -> str:
        return files.get((status["input"]["partition"], status["input"]["offset"]), "?")

    rows = sorted(statuses, key=lambda s: (file_of(s), STAGES.index(s["stage"])))
    print(f"\n{'file':<22} {'event':<10} {'rule':<15} {'stage':<11} {'outcome':<28} detail")
    for status in rows:
        detail = status["io_message_id"] or (status["error"] or {}).get("detail") or ""
        print(
            f"{file_of(status):<22} {status['event_id'] or '-':<10} {status['rule'] or '-':<15} "
            f"{status['stage']:<11} {status['outcome']:<28} {detail}"
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
