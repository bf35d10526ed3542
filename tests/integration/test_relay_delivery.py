"""Delivery semantics against the real broker and the IO sandbox: thousands of events, order
per citizen, the ledger against double sends, SASL, SIGTERM, and a fatal configuration.

Each test judges the status topic, the DLQ and the sandbox's record of accepted submissions
against the expected outcome of every sample event (tests/fixtures/relay.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from consumer.config import KafkaSettings, load_settings
from consumer.events import InputRecord
from consumer.report import InputPosition, Outcome, StatusRecord
from consumer.runtime import StopWhen, run_relay
from consumer.runtime import app as runtime_app
from consumer.runtime.commit import CommitPolicy
from consumer.runtime.process import EventProcessor, Processed
from consumer.runtime.relay import Relay, RelayLimits
from consumer.runtime.scheduler import KeyedScheduler
from consumer.runtime.sink import ReportSink
from consumer.runtime.source import KafkaSource, helper_client_config
from consumer.runtime.status_log import KafkaStatusLog
from tests.fixtures.kafka import TopicFactory, client_settings
from tests.fixtures.kafka_io import Delivered, consume_all, produce
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    SampleSet,
    Status,
    check_dead_letters,
    check_delivery,
    citizen_series,
    committed_offsets,
    end_offsets,
    generate_events,
    missing_terminal,
    read_statuses,
    relay_topics,
    status_count,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import Sandbox, SandboxFactory

pytestmark = pytest.mark.kafka

PARTITIONS = 4
IDLE_S = 3.0
# Generous bounds against a hung run, not performance claims.
RUN_BOUND_S = 180.0
EXIT_BOUND_S = 60.0


@pytest.fixture
def topics(new_topic: TopicFactory) -> RelayTopics:
    return relay_topics(new_topic, partitions=PARTITIONS)


def config_for(
    tmp_path: Path,
    bootstrap: str,
    topics: RelayTopics,
    sandbox: Sandbox,
    **options: Any,
) -> Path:
    return write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        **options,
    )


async def run_in_process(config: Path) -> None:
    async with asyncio.timeout(RUN_BOUND_S):
        await run_relay(load_settings(config), StopWhen(idle_for_s=IDLE_S))


async def run_in_process_until_settled(
    config: Path,
    samples: SampleSet,
    delivered: list[Delivered],
    topics: RelayTopics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run the relay in process (no idle stop) until every event has a terminal status, then
    stop it as SIGTERM would."""
    started: list[Relay] = []

    class TrackedRelay(Relay):
        def __init__(self, **parts: Any) -> None:
            super().__init__(**parts)
            started.append(self)

    monkeypatch.setattr(runtime_app, "Relay", TrackedRelay)
    settings = load_settings(config)
    bootstrap = settings.kafka.bootstrap_servers
    running = asyncio.create_task(run_relay(settings))
    try:
        async with asyncio.timeout(RUN_BOUND_S):
            while True:
                await asyncio.wait({running}, timeout=0.5)
                if running.done():
                    running.result()
                    raise AssertionError("the relay stopped before every event was settled")
                statuses = await asyncio.to_thread(read_statuses, bootstrap, topics.status)
                if not missing_terminal(samples, delivered, statuses):
                    break
    finally:
        for relay in started:
            relay.stop()
        async with asyncio.timeout(60):
            await running


def assert_clean(
    samples: SampleSet,
    delivered: list[Delivered],
    statuses: list[Status],
    sandbox: Sandbox,
    topic: str,
) -> None:
    check = check_delivery(samples, delivered, statuses, sandbox.messages(), input_topic=topic)
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == 0
    assert check.orphan_submissions == 0


# -- volume ---------------------------------------------------------------------------------


async def test_two_thousand_events_each_get_exactly_their_outcome(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(2_000)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox)

    await run_in_process(config)

    statuses = read_statuses(kafka_bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    print(f"\n2000-event run: {check.figures()}")
    assert check.problems == [], check.explain()
    assert Counter((s.event_id, s.rule, s.outcome) for s in statuses) == Counter(samples.expected())
    # One submission per SUBMITTED record, with its message id, and nothing else.
    submitted_ids = sorted(s.io_message_id or "" for s in statuses if s.outcome == "SUBMITTED")
    assert submitted_ids == sorted(m["id"] for m in accepted)
    assert len(submitted_ids) == len(samples.submitted())
    assert check.duplicate_submissions == 0
    # Each status record sits in the status partition derived from its input partition.
    assert all(s.status_partition == s.partition % PARTITIONS for s in statuses)
    dead = consume_all(kafka_bootstrap, topics.dlq, expected=len(samples.malformed()))
    assert check_dead_letters(samples, delivered, dead, input_topic=topics.events) == []
    assert len(dead) == len(samples.malformed())
    group = load_settings(config).kafka.group_id
    ends = end_offsets(kafka_bootstrap, topics.events)
    assert committed_offsets(kafka_bootstrap, group, topics.events, PARTITIONS) == ends
    assert sum(ends.values()) == len(samples.events)


# -- order ------------------------------------------------------------------------------------

SEQUENCE = re.compile(r"Rata (\d{3}) della serie")


async def test_one_citizens_events_reach_io_in_offset_order(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    tmp_path: Path,
) -> None:
    series = citizen_series(30)
    crowd = generate_events(300, prefix="crowd")
    # The citizen's events among 300 others, so many lanes run side by side.
    events = list(crowd.events)
    for number, event in enumerate(series.events):
        events.insert(number * 10, event)
    samples = SampleSet(events, {**crowd.profiles, **series.profiles})
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=5)
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox, max_in_flight=64)

    await run_in_process(config)

    statuses = read_statuses(kafka_bootstrap, topics.status)
    assert_clean(samples, delivered, statuses, sandbox, topics.events)
    citizen = series.events[0].fiscal_code
    arrived = [m for m in sandbox.messages() if m["fiscal_code"] == citizen]
    sequence = [int(SEQUENCE.findall(m["body"]["content"]["markdown"])[0]) for m in arrived]
    assert sequence == list(range(30))
    assert [m["received_at"] for m in arrived] == sorted(m["received_at"] for m in arrived)
    # The same order in Kafka: one partition, offsets rising with the sequence number.
    landed = [delivered[events.index(event)] for event in series.events]
    assert len({d.partition for d in landed}) == 1
    assert [d.offset for d in landed] == sorted(d.offset for d in landed)


# -- the ledger -------------------------------------------------------------------------------


def rewind_group(admin: AdminClient, group: str, topic: str) -> None:
    """Commit offset 0 (no metadata) for every partition, as an operator's reset would."""
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, partition, 0) for partition in range(PARTITIONS)]
    )
    for future in admin.alter_consumer_group_offsets([request]).values():
        future.result(timeout=30)


def statuses_after(statuses: list[Status], before: list[Status]) -> list[Status]:
    """The records written since ``before`` was read (by status partition and position)."""
    seen = Counter((s.status_partition, s.position, s.rule, s.outcome) for s in before)
    new = []
    for status in statuses:
        key = (status.status_partition, status.position, status.rule, status.outcome)
        if seen[key]:
            seen[key] -= 1
        else:
            new.append(status)
    return new


def delete_group(admin: AdminClient, group: str) -> None:
    for future in admin.delete_consumer_groups([group], request_timeout=30).values():
        future.result(timeout=30)


@pytest.mark.parametrize("reset", ["rewind-offsets", "delete-group"])
async def test_a_second_pass_over_the_same_events_sends_nothing_again(
    reset: str,
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(400)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox)
    group = load_settings(config).kafka.group_id
    await run_in_process(config)
    first_statuses = read_statuses(kafka_bootstrap, topics.status)
    first_accepted = sandbox.messages()
    assert_clean(samples, delivered, first_statuses, sandbox, topics.events)

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    if reset == "rewind-offsets":
        rewind_group(admin, group, topics.events)
        expected_committed = 0
    else:
        delete_group(admin, group)
        expected_committed = -1001  # none: the commit metadata went with the group
    committed = committed_offsets(kafka_bootstrap, group, topics.events, PARTITIONS)
    assert set(committed.values()) == {expected_committed}
    await run_in_process(config)

    statuses = read_statuses(kafka_bootstrap, topics.status)
    accepted = sandbox.messages()
    assert accepted == first_accepted  # not one new submission
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    print(f"\nledger after {reset}: {check.figures()}")
    assert check.problems == [], check.explain()
    # The second pass wrote only DUPLICATE records, one per SUBMITTED (event, rule), same id.
    new = statuses_after(statuses, first_statuses)
    assert all(s.outcome == "DUPLICATE" for s in new)
    submitted = {
        (s.position, s.rule): s.io_message_id for s in first_statuses if s.outcome == "SUBMITTED"
    }
    assert {(s.position, s.rule): s.io_message_id for s in new} == submitted
    assert len(new) == len(submitted) == len(samples.submitted())
    assert len(statuses) == len(first_statuses) + len(new)
    # Invalid events are dead-lettered again (a copy is harmless, a loss is not).
    dead = consume_all(kafka_bootstrap, topics.dlq, expected=2 * len(samples.malformed()))
    assert Counter((m.key, m.value) for m in dead) == Counter(
        {(e.key, e.value): 2 for e in samples.malformed()}
    )
    ends = end_offsets(kafka_bootstrap, topics.events)
    assert committed_offsets(kafka_bootstrap, group, topics.events, PARTITIONS) == ends


# -- SASL -------------------------------------------------------------------------------------


def test_a_run_over_sasl_plain_gives_every_event_its_outcome(
    kafka_sasl: dict[str, str],
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(200)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    delivered = produce(kafka_sasl, topics.events, samples.records())
    config = config_for(
        tmp_path,
        kafka_sasl["bootstrap.servers"],
        topics,
        sandbox,
        client=client_settings(kafka_sasl),
    )

    relay = start_relay(config, exit_when_idle=IDLE_S)

    assert relay.wait(RUN_BOUND_S) == 0
    statuses = read_statuses(kafka_sasl, topics.status)
    assert_clean(samples, delivered, statuses, sandbox, topics.events)
    dead = consume_all(kafka_sasl, topics.dlq, expected=len(samples.malformed()))
    assert check_dead_letters(samples, delivered, dead, input_topic=topics.events) == []


def test_a_wrong_sasl_password_stops_the_relay_with_a_clear_message(
    kafka_sasl: dict[str, str],
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    sandbox = start_sandbox(rate_limit="off")
    config = config_for(
        tmp_path,
        kafka_sasl["bootstrap.servers"],
        topics,
        sandbox,
        client=client_settings(kafka_sasl, **{"sasl.password": "not-the-password"}),
    )
    started = time.monotonic()

    relay = start_relay(config)  # no --exit-when-idle: it must stop by itself

    code = relay.wait(EXIT_BOUND_S)
    print(f"\nwrong SASL password: exit {code} after {time.monotonic() - started:.1f} s")
    assert code != 0
    assert re.search(r"SASL authentication error", relay.log())  # librdkafka's own lines
    last_lines = relay.log_tail(5)
    assert code == 2, last_lines
    assert "io-relay:" in last_lines
    assert re.search(r"authenticat|credentials", last_lines, re.IGNORECASE)
    assert "Traceback" not in relay.log()


# -- SIGTERM ----------------------------------------------------------------------------------


def test_sigterm_stops_cleanly_and_a_second_run_finishes_the_rest(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(500)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=50)
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    shutdown_timeout_s, max_in_flight = 15.0, 32
    config = config_for(
        tmp_path,
        kafka_bootstrap,
        topics,
        sandbox,
        shutdown_timeout_s=shutdown_timeout_s,
        max_in_flight=max_in_flight,
    )
    first = start_relay(config, name="first")
    wait_until(
        lambda: status_count(kafka_bootstrap, topics.status) >= 40,
        timeout=RUN_BOUND_S,
        what="some status records",
        watch=[first],
        interval=0.05,
    )

    before_signal = status_count(kafka_bootstrap, topics.status)
    first.terminate()
    signalled = time.monotonic()
    code = first.wait(shutdown_timeout_s + 15)
    stopped_in = time.monotonic() - signalled

    partial = read_statuses(kafka_bootstrap, topics.status)
    check = check_delivery(
        samples, delivered, partial, sandbox.messages(), input_topic=topics.events, complete=False
    )
    print(
        f"\nSIGTERM: exit {code} in {stopped_in:.1f} s; {before_signal} records at the signal, "
        f"{len(partial)} at exit: {check.figures()}"
    )
    assert code == 0
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0
    assert first.messages("double-send window")  # the shutdown path ran to its end

    second = start_relay(config, exit_when_idle=IDLE_S, name="second")

    assert second.wait(RUN_BOUND_S) == 0
    statuses = read_statuses(kafka_bootstrap, topics.status)
    check = check_delivery(
        samples, delivered, statuses, sandbox.messages(), input_topic=topics.events
    )
    print(f"after the second run: {check.figures()}")
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0
    # Fetching stopped at the signal: only what was held (at most max_in_flight) finished.
    assert len(partial) <= before_signal + 2 * max_in_flight


# -- a fatal configuration --------------------------------------------------------------------


def test_an_io_key_the_gateway_does_not_know_stops_the_relay_with_exit_code_2(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(60)
    known = {
        "sandbox-key-tari": {"service": "tari", "account": "comune"},
        "sandbox-key-tributi": {"service": "tributi", "account": "comune"},
    }  # sandbox-key-documenti is not: its calls get 401
    sandbox = start_sandbox(profiles=samples.profiles_document(known), rate_limit="off")
    produce(kafka_bootstrap, topics.events, samples.records())
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox)

    relay = start_relay(config)  # no --exit-when-idle: it must stop by itself

    assert relay.wait(EXIT_BOUND_S) == 2
    message = relay.log_tail(3)
    assert "io-relay:" in message
    assert "'documenti'" in message
    assert "401" in message
    # No event of that service was settled as failed: they wait for a fixed configuration.
    statuses = read_statuses(kafka_bootstrap, topics.status)
    assert not [s for s in statuses if s.service == "documenti"]
    assert json.dumps([s.outcome for s in statuses]).count("FAILED") == 0


# -- what the runtime must also hold --------------------------------------------------------


async def test_no_more_than_max_in_flight_events_are_held(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples = generate_events(600)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=20)
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    max_in_flight = 16
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox, max_in_flight=max_in_flight)
    peak = 0
    submit = KeyedScheduler.submit

    def counting_submit(self: KeyedScheduler, key: Any, job: Any) -> None:
        nonlocal peak
        submit(self, key, job)
        peak = max(peak, self.held)

    monkeypatch.setattr(KeyedScheduler, "submit", counting_submit)

    await run_in_process_until_settled(config, samples, delivered, topics, monkeypatch)

    print(f"\nmax_in_flight {max_in_flight}: at most {peak} events held")
    statuses = read_statuses(kafka_bootstrap, topics.status)
    assert_clean(samples, delivered, statuses, sandbox, topics.events)
    assert peak <= max_in_flight


def test_a_burst_run_ends_only_when_the_backlog_is_done(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    """--exit-when-idle under backpressure: while the partitions are paused no record comes,
    which is not idleness."""
    samples = generate_events(1_500)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=50)
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox, max_in_flight=16)

    relay = start_relay(config, exit_when_idle=2.0)

    assert relay.wait(RUN_BOUND_S) == 0
    statuses = read_statuses(kafka_bootstrap, topics.status)
    check = check_delivery(
        samples, delivered, statuses, sandbox.messages(), input_topic=topics.events, complete=False
    )
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == 0
    missing = missing_terminal(samples, delivered, statuses)
    print(f"\nburst run: {len(samples.events) - len(missing)} of {len(samples.events)} settled")
    assert not missing, f"exited with {len(missing)} events not handled"


def commit_offsets(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit for a group that has no member (as an earlier run would have left it)."""
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    wanted = [TopicPartition(tp.topic, tp.partition, o) for tp, o in offsets.items()]
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                committer.commit(offsets=wanted, asynchronous=False)
                return
            except KafkaException:  # a new group's coordinator may not be ready yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        committer.close()


async def test_events_written_in_transactions_are_committed_to_the_end(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    tmp_path: Path,
) -> None:
    """An upstream that writes with transactions (exactly-once pipelines, Kafka Connect)
    leaves a commit marker after each transaction: offsets the consumer never receives."""
    samples = generate_events(200)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "transactional.id": f"upstream-{topics.events}"}
    )
    producer.init_transactions(30)
    records = samples.records()
    for first in range(0, len(records), 10):
        producer.begin_transaction()
        for key, value, _ in records[first : first + 10]:
            producer.produce(topics.events, value, key)
        producer.commit_transaction(30)
    config = config_for(tmp_path, kafka_bootstrap, topics, sandbox)

    await run_in_process(config)

    statuses = read_statuses(kafka_bootstrap, topics.status)
    assert Counter((s.event_id, s.rule, s.outcome) for s in statuses) == Counter(samples.expected())
    group = load_settings(config).kafka.group_id
    ends = end_offsets(kafka_bootstrap, topics.events)
    assert sum(ends.values()) > len(samples.events)  # the markers take offsets too
    after_last_record: dict[int, int] = {}
    for message in consume_all(kafka_bootstrap, topics.events):
        after_last_record[message.partition] = message.offset + 1
    committed = committed_offsets(kafka_bootstrap, group, topics.events, PARTITIONS)
    assert all(committed[p] <= end for p, end in ends.items())
    # Nothing left to read again: past the last record (at most a final marker remains).
    assert all(after_last_record[p] <= committed[p] for p in ends), (committed, after_last_record)


class CountingProcessor(EventProcessor):
    """Counts how often each input record is processed; reports it SKIPPED at once."""

    def __init__(self) -> None:  # no rules, no IO: only the relay's handling is under test
        self.calls: Counter[tuple[int, int]] = Counter()

    async def process(
        self, record: InputRecord, prior: Any = None, sending: Any = None
    ) -> Processed:
        self.calls[(record.partition, record.offset)] += 1
        position = InputPosition(
            topic=record.topic, partition=record.partition, offset=record.offset
        )
        skipped = StatusRecord(
            event_id=f"{record.partition}-{record.offset}",
            event_type="test",
            outcome=Outcome.SKIPPED,
            input=position,
        )
        return Processed([skipped])


class BackpressuredSource(KafkaSource):
    """Pauses the whole assignment after each batch, as the relay does when it is full, for
    the given durations; the relay does not see these pauses (so neither ends them early)."""

    def __init__(self, pauses: list[float], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pauses = iter(pauses)
        self._hold_until: float | None = None

    @property
    def paused(self) -> frozenset[tuple[str, int]]:
        return frozenset()

    def takes(self, partition: tuple[str, int]) -> bool:
        return partition in self.assigned

    async def poll(self, *args: Any, **kwargs: Any) -> list[InputRecord]:
        if self._hold_until is not None:
            if time.monotonic() < self._hold_until:
                return await super().poll(*args, **kwargs)  # paused: nothing new comes
            self._hold_until = None
            await super().resume()
        records = await super().poll(*args, **kwargs)
        if records:
            await super().pause(set(self.assigned))
            self._hold_until = time.monotonic() + next(self._pauses, 0.5)
        return records


async def test_each_record_is_processed_once_across_pause_and_resume(
    kafka_bootstrap: str,
    topics: RelayTopics,
) -> None:
    """The relay pauses its whole assignment under backpressure, often right after an
    assignment. Partitions 1 and 2 have no committed offset (their start is still being
    looked up when the first pause comes); librdkafka 2.x may then fetch such a partition
    again from its start after resume(), handing over records it handed over already. The
    relay must process each of them once all the same."""
    produce(
        kafka_bootstrap,
        topics.events,
        [(f"k{i}".encode(), b"x" * 400, None) for i in range(3_000)],
    )
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"relay-{topics.events}",
        input_topics=[topics.events],
        status_topic=topics.status,
        dlq_topic=topics.dlq,
    )
    commit_offsets(
        kafka_bootstrap,
        settings.group_id,
        {TopicPartition(topics.events, 0): 60, TopicPartition(topics.events, 3): 500},
    )
    expected = sum(end_offsets(kafka_bootstrap, topics.events).values()) - 60 - 500
    processor = CountingProcessor()
    relay = Relay(
        processor=processor,
        sink=ReportSink(settings),
        status_log=KafkaStatusLog(helper_client_config(settings), settings.status_topic),
        commit_policy=CommitPolicy(1.0),
        limits=RelayLimits(max_in_flight=10_000),  # the pauses come from the source here
    )
    pauses = [0.36, 3.4, 1.7, 1.9, 1.9, 1.9, 1.9, 1.9]
    relay.attach(
        BackpressuredSource(
            pauses,
            settings,
            on_assign=relay.on_assign,
            on_revoke=relay.on_revoke,
            rebalance_timeout_s=30,
        )
    )
    running = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(RUN_BOUND_S):
            while len(processor.calls) < expected and not running.done():
                await asyncio.wait({running}, timeout=0.2)
            await asyncio.wait(
                {running}, timeout=3
            )  # anything handed over again comes soon after a resume
    finally:
        relay.stop()
        async with asyncio.timeout(60):
            await running

    twice = sorted(position for position, count in processor.calls.items() if count > 1)
    print(f"\nrelay: {len(processor.calls)} records, {len(twice)} processed more than once")
    assert len(processor.calls) == expected
    assert twice == []
