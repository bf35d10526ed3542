"""The scan's picking: by record key, and the events of a notice."""

from __future__ import annotations

from consumer.events.input import InputRecord
from consumer.history.scan import by_key, events_of_notice
from consumer.report import Outcome, Stage
from tests.unit.history.test_records import at, status


def test_records_are_picked_by_key_alone() -> None:
    picks = by_key(["E1", "E2"])

    assert picks(InputRecord("status", 0, 1, b"E1", b"{}"))
    assert picks(InputRecord("status", 0, 2, b"E2", None))
    assert not picks(InputRecord("status", 0, 3, b"E10", b"{}"))
    assert not picks(InputRecord("status", 0, 4, None, b'{"event_id": "E1"}'))


def test_an_event_id_that_is_a_fiscal_code_is_found_by_its_masked_key() -> None:
    picks = by_key(["RSSMRA85T10A562S"])

    assert picks(InputRecord("status", 0, 1, b"RSS**********62S", b"{}"))
    assert not picks(InputRecord("status", 0, 1, b"RSSMRA85T10A562S", b"{}"))


def test_the_events_of_a_notice_in_the_order_first_seen() -> None:
    notice, other = "302000000000000001", "302000000000000002"
    found = [
        at(status("E2", Stage.DELIVERY, Outcome.SUBMITTED, 1, notice)),
        at(status("E3", Stage.DELIVERY, Outcome.SUBMITTED, 2, other)),
        at(status("E1", Stage.DELIVERY, Outcome.FAILED, 3, notice)),
        at(status("E2", Stage.DELIVERY, Outcome.DUPLICATE, 4, notice)),
        at(status("E4", Stage.PAYMENT, Outcome.PAID, 5)),
    ]

    assert events_of_notice(found, notice) == ["E2", "E1"]
    assert events_of_notice(found, "302000000000000009") == []
