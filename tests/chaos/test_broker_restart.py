"""The broker goes down mid-run (deploy/local/kafka.sh down) and comes back on the same ports.

A dedicated broker, so the session's broker is not disturbed. While it is away the relay keeps
its work (status records wait in the producer, commits fail and are retried later); once it is
back, processing resumes by itself: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from tests.fixtures.kafka import KAFKA_SH, OWNER_FILE, TEST_STATE_PREFIX, TopicFactory, cache_root
from tests.fixtures.kafka_io import produce
from tests.fixtures.ports import free_port, free_ports
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    check_delivery,
    generate_events,
    last_status_at,
    read_statuses,
    report_figures,
    status_count,
    wait_for_terminal,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import SandboxFactory

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

EVENTS = 2_000
MAX_IN_FLIGHT = 64
DOWN_FOR_S = 10.0
PHASE_BOUND_S = 120.0


@dataclass
class OwnBroker:
    """A single-node broker of its own, stopped and started with kafka.sh."""

    bootstrap: str
    state_dir: Path
    env: dict[str, str]

    def _script(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KAFKA_SH), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def up(self) -> None:
        done = self._script("up", timeout=180)
        assert done.returncode == 0, f"kafka.sh up failed:\n{done.stderr}"

    def down(self) -> None:
        done = self._script("down", timeout=90)
        assert done.returncode == 0, f"kafka.sh down failed:\n{done.stderr}"

    def running(self) -> bool:
        return self._script("status", timeout=30).returncode == 0


@pytest.fixture
def own_broker() -> Iterator[OwnBroker]:
    port, sasl_port, ssl_port, controller_port = free_ports(4)
    # Under the test state prefix, with an owner file: a session that dies leaves nothing
    # running for long (tests/fixtures/kafka.py reaps abandoned test brokers).
    state_dir = cache_root() / "kafka" / f"{TEST_STATE_PREFIX}{port}"
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    (state_dir / OWNER_FILE).write_text(f"{os.getpid()}\n")
    env = {
        **os.environ,
        "IO_RELAY_CACHE": str(cache_root()),
        "KAFKA_STATE_DIR": str(state_dir),
        "KAFKA_PORT": str(port),
        "KAFKA_SASL_PORT": str(sasl_port),
        "KAFKA_SSL_PORT": str(ssl_port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
    }
    broker = OwnBroker(f"127.0.0.1:{port}", state_dir, env)
    broker.up()
    try:
        yield broker
    finally:
        broker.down()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_a_broker_restart_mid_run_loses_nothing_and_sends_nothing_twice(
    own_broker: OwnBroker,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    bootstrap = own_broker.bootstrap
    new_topic = TopicFactory(AdminClient({"bootstrap.servers": bootstrap}))
    topics = RelayTopics(
        new_topic("events", partitions=4), new_topic("status", partitions=4), new_topic("dlq")
    )
    samples = generate_events(EVENTS)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=20)
    delivered = produce(bootstrap, topics.events, samples.records())
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        max_in_flight=MAX_IN_FLIGHT,
        metrics_port=(metrics_port := free_port()),
    )
    relay = start_relay(config)
    readyz = f"http://127.0.0.1:{metrics_port}/readyz"
    wait_until(
        lambda: status_count(bootstrap, topics.status) >= EVENTS // 3,
        timeout=PHASE_BOUND_S,
        what="a third of the status records",
        watch=[relay],
        interval=0.05,
    )

    accepted_before = len(sandbox.messages())
    stopping = time.time()
    own_broker.down()
    stopped = time.time()
    # Readiness follows the broker: the probe (every second here) stops getting answers.
    unready = []
    while time.time() - stopped < DOWN_FOR_S:
        answer = httpx.get(readyz, timeout=5)
        if answer.status_code == 503:
            unready.append(answer.json()["problems"])
        time.sleep(0.5)
    assert ["broker did not answer the last probe"] in unready
    accepted_while_down = len(sandbox.messages()) - accepted_before
    assert relay.running, "the relay must ride out a broker restart"
    own_broker.up()
    back = time.time()

    wait_for_terminal(
        bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=[relay]
    )
    ready_again_s = wait_until(
        lambda: httpx.get(readyz, timeout=5).status_code == 200,
        timeout=PHASE_BOUND_S,
        what="/readyz 200 once the broker is back",
        watch=[relay],
    )
    relay.terminate()
    code = relay.wait(60)
    statuses = read_statuses(bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    report_figures(
        "broker restart",
        {
            "events": EVENTS,
            "max_in_flight": MAX_IN_FLIGHT,
            "broker_stop_s": stopped - stopping,
            "broker_down_s": back - stopped,
            "submissions_during_stop_and_down": accepted_while_down,
            "submissions": len(accepted),
            "expected_submissions": len(samples.submitted()),
            "duplicate_submissions": check.duplicate_submissions,
            "duplicate_records": check.duplicate_records,
            "rebalances": len(relay.messages("partitions assigned")) - 1,
            "recover_s": last_status_at(statuses) - back,
            "unready_answers_while_down": len(unready),
            "ready_again_after_last_status_s": ready_again_s,
        },
    )
    assert code == 0
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0
    assert len(accepted) == len(samples.submitted())
