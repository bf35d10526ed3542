import json
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from consumer.observability import group_identity
from consumer.observability.group_identity import GroupIdentity
from consumer.observability.logging import JsonFormatter, mask


def test_fiscal_codes_are_masked_anywhere_in_a_line() -> None:
    assert mask("to AAAAAA00A00A000A and BBBBBB00B00B000B") == (
        "to AAA**********00A and BBB**********00B"
    )


def test_json_lines_carry_extra_fields_and_never_a_fiscal_code() -> None:
    record = logging.makeLogRecord(
        {"msg": "profile of %s", "args": ("AAAAAA00A00A000A",), "levelname": "INFO"}
    )
    record.event_id = "e-1"

    line = JsonFormatter().format(record)
    entry = json.loads(line)

    assert entry["event_id"] == "e-1"
    assert entry["level"] == "info"
    assert "AAAAAA00A00A000A" not in line
    assert entry["message"] == "profile of AAA**********00A"


def test_every_line_names_its_replica_the_pods_hostname_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three replicas' logs, merged by the platform, can still be told apart."""
    monkeypatch.setenv("HOSTNAME", "io-relay-7d9f8-abcde")
    record = logging.makeLogRecord({"msg": "partitions assigned", "levelname": "INFO"})

    entry = json.loads(JsonFormatter().format(record))

    assert entry["replica"] == "io-relay-7d9f8-abcde"


def test_without_hostname_set_the_replica_is_the_hosts_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOSTNAME", raising=False)
    record = logging.makeLogRecord({"msg": "started", "levelname": "INFO"})

    entry = json.loads(JsonFormatter().format(record))

    assert entry["replica"] == socket.gethostname()


@pytest.fixture
def no_group_identity() -> Iterator[None]:
    """The process-wide identity as a fresh process has it, and again afterwards."""
    group_identity.update(None)
    yield
    group_identity.update(None)


def test_a_line_names_the_group_generation_and_member_it_was_written_in() -> None:
    """Which rebalance a line belongs to, and which member of the group wrote it."""
    member = "rdkafka-6c1f7a0e-93d4-4b7e-8a52-0f9e1d2c3b4a"
    formatter = JsonFormatter(identity=lambda: GroupIdentity(generation=7, member=member))
    record = logging.makeLogRecord({"msg": "partitions assigned", "levelname": "INFO"})

    entry = json.loads(formatter.format(record))

    assert (entry["generation"], entry["member"]) == (7, member)


def test_a_line_written_outside_any_generation_has_neither_field() -> None:
    """Before the first assignment and after leaving: absent, not null."""
    record = logging.makeLogRecord({"msg": "started", "levelname": "INFO"})

    entry = json.loads(JsonFormatter(identity=lambda: None).format(record))

    assert "generation" not in entry
    assert "member" not in entry
    assert entry["replica"]


def test_an_unreadable_generation_is_null_beside_the_member() -> None:
    formatter = JsonFormatter(identity=lambda: GroupIdentity(generation=None, member="m-1"))
    record = logging.makeLogRecord({"msg": "partitions assigned", "levelname": "INFO"})

    entry = json.loads(formatter.format(record))

    assert entry["generation"] is None
    assert entry["member"] == "m-1"


@pytest.mark.usefixtures("no_group_identity")
def test_the_formatter_follows_the_process_identity_set_from_another_thread() -> None:
    """The poll thread sets it in the rebalance callbacks; every thread's next line shows it."""
    formatter = JsonFormatter()
    record = logging.makeLogRecord({"msg": "polling", "levelname": "INFO"})
    before = json.loads(formatter.format(record))

    setter = threading.Thread(
        target=group_identity.update, args=(GroupIdentity(generation=3, member="m-3"),)
    )
    setter.start()
    setter.join()
    after = json.loads(formatter.format(record))
    group_identity.update(None)
    left = json.loads(formatter.format(record))

    assert "generation" not in before
    assert (after["generation"], after["member"]) == (3, "m-3")
    assert "generation" not in left


def test_the_member_id_is_written_as_the_broker_shows_it_even_where_the_mask_would_bite() -> None:
    """A member id is the coordinator's (client.id and a UUID), never an event's: the fuzzy
    mask would turn this one into `rdkafka-DFC**********E7F-…`, matching no member."""
    member = "rdkafka-dfccbe78-e77b-4e7f-bba4-63b5167ba1a5"
    assert mask(member) != member
    formatter = JsonFormatter(identity=lambda: GroupIdentity(generation=4, member=member))
    record = logging.makeLogRecord(
        {"msg": "profile of %s", "args": ("AAAAAA00A00A000A",), "levelname": "INFO"}
    )

    line = formatter.format(record)

    assert json.loads(line)["member"] == member
    assert "AAAAAA00A00A000A" not in line
