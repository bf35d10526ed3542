"""`io-relay history` and `io-relay status` against the real broker and a real PostgreSQL:
the status topic sunk into the database, read back by event and by notice, and, without a
database, scanned within `--since`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from confluent_kafka import Producer
from psycopg import sql

from consumer.cli_status import line
from consumer.report import ErrorInfo, InputPosition, Outcome, Stage, StatusRecord
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import produce
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.relay import REPO_ROOT

pytestmark = pytest.mark.kafka

NOTICE = "302000000000012345"  # printed: 3020 0000 0000 0123 45
NOW = datetime.now(UTC).replace(microsecond=0)


def io_relay(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "consumer", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def record(
    event_id: str,
    stage: Stage,
    outcome: Outcome,
    minutes: int,
    **fields: Any,
) -> StatusRecord:
    return StatusRecord(
        event_id=event_id,
        event_type="payment_notice.issued",
        stage=stage,
        outcome=outcome,
        input=InputPosition(topic="tributi.events", partition=0, offset=7),
        at=NOW - timedelta(hours=1) + timedelta(minutes=minutes),
        **fields,
    )


def paid_event() -> list[StatusRecord]:
    """A Premium payable message: submitted with a notice, processed, paid."""
    common = {"rule": "tari-avviso", "service": "tari", "io_message_id": "01JMSGAAAA"}
    return [
        record("evt-A", Stage.DELIVERY, Outcome.SUBMITTED, 0, notice_number=NOTICE, **common),
        record("evt-A", Stage.PROCESSING, Outcome.PROCESSED, 1, attempts=1, **common),
        record("evt-A", Stage.READING, Outcome.READ, 3, attempts=2, **common),
        record("evt-A", Stage.PAYMENT, Outcome.PAID, 5, attempts=3, **common),
    ]


def refused_event() -> list[StatusRecord]:
    """Another event, sharing nothing with the first: IO refused it."""
    refused = ErrorInfo(type="refused", detail="403: the service may not send")
    return [
        record(
            "evt-B",
            Stage.DELIVERY,
            Outcome.FAILED,
            2,
            rule="documento-pronto",
            service="documenti",
            http_status=403,
            error=refused,
        )
    ]


def publish(bootstrap: str, topic: str, records: list[StatusRecord]) -> None:
    """Lifecycle before delivery, events interleaved: the order printed is not the topic's."""
    shuffled = [records[3], records[4], records[1], records[0], records[2]]
    produce(bootstrap, topic, [(r.key(), r.to_bytes(), None) for r in shuffled])


def write_config(path: Path, kafka: dict[str, Any], history: dict[str, Any] | None) -> Path:
    document: dict[str, Any] = {"kafka": kafka}
    if history is not None:
        document["history"] = history
    path.write_text(yaml.safe_dump(document))
    return path


def kafka_section(bootstrap: str, status_topic: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap,
        "group_id": f"status-test-{uuid.uuid4().hex[:8]}",
        "status_topic": status_topic,
    }


def rows(postgres: PostgresServer, table: str) -> list[tuple[str, int, int, str, str | None]]:
    query = sql.SQL(
        "SELECT status_topic, status_partition, status_offset, event_id, notice_number "
        "FROM {} ORDER BY status_partition, status_offset"
    ).format(sql.Identifier(table))
    with psycopg.connect(postgres.dsn) as connection:
        return connection.execute(query).fetchall()


def expected_lines(records: list[StatusRecord]) -> list[str]:
    return [f"event {records[0].event_id}", *(line(r) for r in records)]


@pytest.fixture
def status_topic(new_topic: TopicFactory) -> str:
    return new_topic("status", partitions=2)


def test_the_history_holds_each_record_once_and_status_prints_it_in_order(
    kafka_bootstrap: str, status_topic: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    paid, refused = paid_event(), refused_event()
    publish(kafka_bootstrap, status_topic, paid + refused)
    table = f"status_{uuid.uuid4().hex[:8]}"
    history = {"dsn": postgres.dsn, "table": table}
    kafka = kafka_section(kafka_bootstrap, status_topic)
    config = write_config(tmp_path / "config.yaml", kafka, history)

    sunk = io_relay("history", "--config", str(config), "--exit-when-idle", "3")
    by_event = io_relay("status", "evt-A", "--config", str(config))
    by_notice = io_relay("status", "--notice", "3020 0000 0000 0123 45", "--config", str(config))
    other = io_relay("status", "evt-B", "--config", str(config))
    as_json = io_relay("status", "evt-A", "--json", "--config", str(config))
    stored = rows(postgres, table)
    # Another group reads the whole topic again: the same places, so no new row.
    kafka["group_id"] += "-again"
    again = io_relay(
        "history",
        "--config",
        str(write_config(tmp_path / "again.yaml", kafka, history)),
        "--exit-when-idle",
        "3",
    )

    assert sunk.returncode == 0, sunk.stderr
    assert len(stored) == 5
    assert {(topic, event) for topic, _, _, event, _ in stored} == {
        (status_topic, "evt-A"),
        (status_topic, "evt-B"),
    }
    assert [notice for *_, event, notice in stored if notice] == [NOTICE]
    assert by_event.returncode == 0, by_event.stderr
    assert by_event.stdout.splitlines() == expected_lines(paid)
    assert [row.split()[1:3] for row in by_event.stdout.splitlines()[1:]] == [
        ["DELIVERY", "SUBMITTED"],
        ["PROCESSING", "PROCESSED"],
        ["READING", "READ"],
        ["PAYMENT", "PAID"],
    ]
    assert by_event.stdout.splitlines()[1].split()[3:] == ["tari-avviso", "tari", "01JMSGAAAA", "-"]
    assert by_notice.returncode == 0, by_notice.stderr
    assert by_notice.stdout == by_event.stdout
    assert other.stdout.splitlines() == expected_lines(refused)
    assert other.stdout.splitlines()[1].split()[3:] == [
        "documento-pronto",
        "documenti",
        "-",
        "refused",
    ]
    assert [StatusRecord.model_validate_json(j) for j in as_json.stdout.splitlines()] == paid
    assert again.returncode == 0, again.stderr
    assert rows(postgres, table) == stored


def test_without_a_database_status_scans_the_topic_within_since(
    kafka_bootstrap: str, status_topic: str, tmp_path: Path
) -> None:
    paid, refused = paid_event(), refused_event()
    publish(kafka_bootstrap, status_topic, paid + refused)
    # Written three days ago (by the broker's clock): outside --since 24h.
    old = record("evt-A", Stage.DELIVERY, Outcome.DUPLICATE, -3 * 24 * 60, rule="tari-avviso")
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    three_days_ago_ms = int((NOW - timedelta(days=3)).timestamp() * 1000)
    producer.produce(status_topic, old.to_bytes(), old.key(), timestamp=three_days_ago_ms)
    assert producer.flush(30) == 0
    config = write_config(
        tmp_path / "config.yaml", kafka_section(kafka_bootstrap, status_topic), None
    )

    by_event = io_relay("status", "evt-A", "--config", str(config))
    by_notice = io_relay("status", "--notice", NOTICE, "--config", str(config))
    a_week = io_relay("status", "evt-A", "--since", "7d", "--config", str(config))
    missing = io_relay("status", "evt-Z", "--config", str(config))

    assert by_event.returncode == 0, by_event.stderr
    assert by_event.stdout.splitlines() == expected_lines(paid)
    assert by_notice.stdout == by_event.stdout
    assert a_week.stdout.splitlines() == expected_lines([old, *paid])
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "no status records of event evt-Z in the last 24h" in missing.stderr


def test_an_unknown_event_is_exit_1(
    kafka_bootstrap: str, status_topic: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    publish(kafka_bootstrap, status_topic, paid_event() + refused_event())
    history = {"dsn": postgres.dsn, "table": f"status_{uuid.uuid4().hex[:8]}"}
    config = write_config(
        tmp_path / "config.yaml", kafka_section(kafka_bootstrap, status_topic), history
    )
    assert io_relay("history", "--config", str(config), "--exit-when-idle", "2").returncode == 0

    unknown = io_relay("status", "evt-Z", "--config", str(config))
    no_notice = io_relay("status", "--notice", "302000000000099999", "--config", str(config))

    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr.strip() == "no status records of event evt-Z in the history"
    assert no_notice.returncode == 1
    assert "no status records of notice 302000000000099999" in no_notice.stderr


def test_a_database_out_of_reach_or_refusing_the_login_is_exit_2_without_the_password(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    password = "Pw-never-printed-42"
    unreachable = f"postgresql://relay:{password}@127.0.0.1:{free_port()}/history"
    wrong = f"postgresql://postgres:{password}@127.0.0.1:{postgres.port}/postgres"
    unparsable = f"postgresql://relay:{password}@127.0.0.1:notaport/history"
    kafka = {"bootstrap_servers": f"127.0.0.1:{free_port()}"}
    outputs = []
    for name, dsn in (("unreachable", unreachable), ("wrong", wrong), ("bad", unparsable)):
        config = write_config(tmp_path / f"{name}.yaml", kafka, {"dsn": dsn})
        outputs.append(io_relay("status", "evt-A", "--config", str(config)))
        outputs.append(io_relay("history", "--config", str(config), "--exit-when-idle", "1"))

    for done in outputs:
        assert done.returncode == 2, done.stdout + done.stderr
        assert password not in done.stdout + done.stderr
        assert done.stderr.startswith(("io-relay status: ", "io-relay history: "))
    assert "connection refused" in outputs[0].stderr.lower()
    assert "refused the login" in outputs[2].stderr
    assert "refused the login" in outputs[3].stderr


def test_an_unreachable_broker_without_a_database_is_exit_2(tmp_path: Path) -> None:
    kafka = {"bootstrap_servers": f"127.0.0.1:{free_port()}", "status_topic": "s"}
    config = write_config(tmp_path / "config.yaml", kafka, None)

    done = io_relay("status", "evt-A", "--config", str(config))

    assert done.returncode == 2
    assert "cannot reach the brokers" in done.stderr
    assert json.dumps(done.stdout) == '""'


def test_the_sink_runs_until_sigterm_and_then_exits_0(
    kafka_bootstrap: str, status_topic: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    table = f"status_{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "config.yaml",
        kafka_section(kafka_bootstrap, status_topic),
        {"dsn": postgres.dsn, "table": table},
    )
    sink = subprocess.Popen(
        [sys.executable, "-m", "consumer", "history", "--config", str(config)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        publish(kafka_bootstrap, status_topic, paid_event() + refused_event())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _stored(postgres, table, 5):
            time.sleep(0.5)
        stored = _stored(postgres, table, 5)
        sink.send_signal(signal.SIGTERM)
        _, stderr = sink.communicate(timeout=15)
    finally:
        if sink.poll() is None:
            sink.kill()

    assert stored
    assert sink.returncode == 0, stderr
    assert postgres.password not in stderr


def _stored(postgres: PostgresServer, table: str, count: int) -> bool:
    try:
        return len(rows(postgres, table)) == count
    except psycopg.errors.UndefinedTable:
        return False
