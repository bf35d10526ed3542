"""Intake: each offset once per assignment, and a rewind that cannot get stuck."""

from __future__ import annotations

import logging

import pytest

from consumer.events import InputRecord
from consumer.runtime.intake import Intake


def _record(offset: int, partition: int = 0) -> InputRecord:
    return InputRecord("in", partition, offset, None, b"{}")


def _take(intake: Intake, offsets: list[int], partition: int = 0) -> list[int]:
    taken = []
    for offset in offsets:
        record = _record(offset, partition)
        if intake.is_new(record):
            intake.taken(record)
            taken.append(offset)
    return taken


def test_a_record_handed_over_again_after_a_pause_is_not_taken_twice() -> None:
    intake = Intake()
    assert _take(intake, [0, 1, 2]) == [0, 1, 2]
    assert _take(intake, [1, 2, 3]) == [3]


def test_after_a_rewind_the_rest_of_its_batch_is_dropped_and_the_target_taken_later() -> None:
    intake = Intake()
    intake.next_batch()
    assert _take(intake, [0, 1]) == [0, 1]
    intake.rewound(_record(2))
    # 3 and 4 came in the same batch as 2, which could not be taken: not before 2.
    assert _take(intake, [3, 4]) == []
    intake.next_batch()
    assert _take(intake, [2, 3, 4]) == [2, 3, 4]


def test_records_below_the_rewind_target_are_dropped_in_later_batches_too() -> None:
    intake = Intake()
    assert _take(intake, [0, 1, 2]) == [0, 1, 2]
    intake.rewound(_record(3))
    intake.next_batch()
    assert _take(intake, [1, 2, 3]) == [3]


def test_a_rewind_target_deleted_by_retention_takes_the_first_record_past_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intake = Intake()
    intake.rewound(_record(5))
    intake.next_batch()
    with caplog.at_level(logging.WARNING, logger="consumer.runtime.intake"):
        assert _take(intake, [3, 9, 10]) == [9, 10]
    gaps = [r for r in caplog.records if "retention" in r.getMessage()]
    assert len(gaps) == 1
    assert (gaps[0].__dict__["expected_offset"], gaps[0].__dict__["offset"]) == (5, 9)


def test_partitions_are_kept_apart_and_forgotten_on_revoke() -> None:
    intake = Intake()
    assert _take(intake, [0, 1], partition=0) == [0, 1]
    assert _take(intake, [0], partition=1) == [0]
    intake.rewound(_record(7, partition=1))
    intake.next_batch()
    intake.forget(("in", 0))
    intake.forget(("in", 1))
    # Assigned again: read from the committed offset, whatever was taken before.
    assert _take(intake, [0], partition=0) == [0]
    assert _take(intake, [3], partition=1) == [3]
