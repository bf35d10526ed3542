import json
import logging

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
