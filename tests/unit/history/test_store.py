"""The store's parts that need no database: its rows, and what its errors may say."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from consumer.errors import FatalError
from consumer.history import HistorySettings
from consumer.history.store import HistoryStore, row, scrub
from consumer.report import ErrorInfo, Outcome, Stage
from tests.unit.history.test_records import at, status


def test_a_row_holds_the_place_the_columns_and_the_json() -> None:
    record = status("E1", Stage.PAYMENT, Outcome.PAID, 2, notice="302000000000000001")
    item = at(record, partition=3, offset=77)

    assert row(item) == (
        "status",
        3,
        77,
        "E1",
        "302000000000000001",
        "tari",
        "tari",
        "PAYMENT",
        "PAID",
        record.at,
        item.raw,
    )


def test_a_nul_character_which_jsonb_refuses_is_replaced() -> None:
    record = status("E1", Stage.DELIVERY, Outcome.FAILED, 0)
    record = record.model_copy(update={"error": ErrorInfo(type="refused", detail="a\x00b")})
    item = at(record)

    stored = row(item)[-1]

    assert isinstance(stored, str)
    assert "\\u0000" in item.raw
    assert "\\u0000" not in stored
    assert json.loads(stored)["error"]["detail"] == "a\ufffdb"


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (
            "postgresql://relay:s3cr3t-pw@db.example:5432/history",
            'missing "=" after "postgresql://relay:s3cr3t-pw@db.example:5432/history"',
        ),
        ("host=db user=relay password=s3cr3t-pw", "FATAL: password s3cr3t-pw is wrong"),
        ("postgresql://relay:s3cr3t-pw@db/h", "see postgres://other:s3cr3t-pw@x/y"),
    ],
)
def test_scrub_leaves_neither_the_dsn_nor_its_password(dsn: str, message: str) -> None:
    scrubbed = scrub(message, dsn)

    assert "s3cr3t-pw" not in scrubbed
    assert "***" in scrubbed


def test_scrub_keeps_one_line_and_masks_fiscal_codes() -> None:
    text = 'connection failed: no user "RSSMRA85T10A562S"\nDETAIL: a second line'

    assert scrub(text, "host=db") == 'connection failed: no user "RSS**********62S"'


@pytest.mark.parametrize("table", ["io_relay_status", "_h", "h2026"])
def test_plain_identifiers_are_tables(table: str) -> None:
    assert HistorySettings(table=table).table == table


@pytest.mark.parametrize(
    "table", ["Status", "io-relay", "x; DROP TABLE y", "1st", "", "a" * 49, 'a"b']
)
def test_anything_else_is_refused_as_a_table(table: str) -> None:
    with pytest.raises(ValidationError):
        HistorySettings(table=table)


def test_the_dsn_never_shows() -> None:
    settings = HistorySettings(dsn="postgresql://relay:s3cr3t-pw@db/h")

    assert "s3cr3t-pw" not in repr(settings)
    assert "s3cr3t-pw" not in str(settings.model_dump())
    assert settings.enabled
    assert not HistorySettings().enabled


def test_a_store_without_dsn_is_a_fatal_error() -> None:
    with pytest.raises(FatalError, match=r"history\.dsn is not set"):
        HistoryStore(HistorySettings())
