import json
import logging
import socket

import pytest

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
