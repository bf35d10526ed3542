"""The generated PDFs are valid PDF 1.4: header, true xref offsets, trailer, %%EOF."""

from __future__ import annotations

import re

import pytest

from consumer.sandbox.pdf import certificate_pdf, text_pdf


def xref_offsets(pdf: bytes) -> list[int]:
    """The in-use offsets of the xref table that `startxref` points at."""
    startxref = int(re.findall(rb"startxref\n(\d+)\n%%EOF\n$", pdf)[0])
    assert pdf[startxref:].startswith(b"xref\n0 ")
    table = pdf[startxref:].split(b"trailer")[0]
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf]) \n", table)
    count = int(table.split(b"\n")[1].split()[1])
    assert len(entries) == count
    return [int(offset) for offset, _, kind in entries if kind == b"n"]


def assert_valid_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    offsets = xref_offsets(pdf)
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
    length = int(re.findall(rb"/Length (\d+) >>\nstream\n", pdf)[0])
    stream_start = pdf.index(b"stream\n") + len(b"stream\n")
    assert pdf[stream_start + length :].startswith(b"\nendstream")
    assert b"/Root 1 0 R" in pdf


@pytest.mark.parametrize("certificate_id", ["ABC123", "2026/(x)\\y", "è-àccénti", ""])
def test_certificate_is_a_valid_pdf(certificate_id: str) -> None:
    assert_valid_pdf(certificate_pdf(certificate_id))


def test_same_id_same_bytes_other_id_other_bytes() -> None:
    assert certificate_pdf("A1") == certificate_pdf("A1")
    assert certificate_pdf("A1") != certificate_pdf("A2")


def test_text_is_escaped_inside_the_page() -> None:
    pdf = text_pdf("Titolo (bozza)", ["riga \\ uno"])
    assert b"(Titolo \\(bozza\\)) Tj" in pdf
    assert b"(riga \\\\ uno) Tj" in pdf
    assert_valid_pdf(pdf)
