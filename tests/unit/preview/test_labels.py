"""The app's words around a message: dates on Rome's clock, amounts as each language writes them."""

from __future__ import annotations

import pytest

from consumer.preview.labels import labels_for


@pytest.mark.parametrize(
    ("language", "due", "amount"),
    [
        ("it_IT", "Scade il 31 marzo 2027", "1.234,56\xa0€"),
        ("de_DE", "Fällig am 31. März 2027", "1.234,56\xa0€"),
        ("en_GB", "Due on 31 March 2027", "€1,234.56"),
        ("fr_FR", "Scade il 31 marzo 2027", "1.234,56\xa0€"),
    ],
)
def test_due_date_and_amount_in_each_language(language: str, due: str, amount: str) -> None:
    labels = labels_for(language)

    assert labels.due_on("2027-03-31T21:59:59.000Z") == due
    assert labels.amount(123456) == amount


def test_a_due_instant_is_read_on_romes_clock() -> None:
    """23:30 UTC on 31 December is already New Year's Day in Rome."""
    assert labels_for("it_IT").due_on("2026-12-31T23:30:00.000Z") == "Scade il 1 gennaio 2027"
