from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from consumer.io.models import MessageContent, NewMessage, format_timestamp, utf16_length

MARKDOWN = "m" * 80


def test_lengths_count_utf16_units_as_io_does() -> None:
    assert utf16_length("😀") == 2
    MessageContent(subject="😀" * 5, markdown=MARKDOWN)  # 10 units: IO accepts it

    with pytest.raises(ValidationError, match="must be 10 to 120 characters long, not 122"):
        MessageContent(subject="😀" * 61, markdown=MARKDOWN)


def test_null_is_refused_where_a_field_may_only_be_left_out() -> None:
    body = {
        "fiscal_code": "AAAAAA00A00A000A",
        "content": {"subject": "s" * 10, "markdown": MARKDOWN},
        "time_to_live": None,
    }

    with pytest.raises(ValidationError, match="time_to_live may be left out, but not null"):
        NewMessage.model_validate(body)


def test_request_body_leaves_unset_fields_out() -> None:
    message = NewMessage.model_validate(
        {"fiscal_code": "AAAAAA00A00A000A", "content": {"subject": "s" * 10, "markdown": MARKDOWN}}
    )

    assert message.to_json_body() == {
        "fiscal_code": "AAAAAA00A00A000A",
        "content": {"subject": "s" * 10, "markdown": MARKDOWN},
    }


def test_timestamps_are_utc_with_milliseconds() -> None:
    instant = datetime(2027, 3, 31, 23, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Rome"))

    assert format_timestamp(instant) == "2027-03-31T21:59:59.999Z"
