"""The times operators type for `--since` and `--until`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from consumer.operations.when import parse_when

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_a_duration_is_that_long_ago(text: str, ago: timedelta) -> None:
    assert parse_when(text, NOW) == NOW - ago


def test_a_date_and_time_without_offset_is_utc() -> None:
    assert parse_when("2026-12-01T08:00") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_an_offset_given_is_kept() -> None:
    rome = timezone(timedelta(hours=1))
    assert parse_when("2026-12-01T09:00+01:00") == datetime(2026, 12, 1, 9, 0, tzinfo=rome)


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-3h", "12x", ""])
def test_anything_else_is_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(ValueError, match=r"30m, 2h, 7d.*ISO 8601"):
        parse_when(text, NOW)


def test_a_duration_further_back_than_time_itself_is_refused_in_words() -> None:
    with pytest.raises(ValueError, match="further back than any record"):
        parse_when("99999999d", NOW)
