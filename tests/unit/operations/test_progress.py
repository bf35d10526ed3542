"""Progress: a bar on a terminal, a line every few seconds elsewhere, always on stderr."""

from __future__ import annotations

import io

import pytest

from consumer.operations import progress as progress_module
from consumer.operations.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_it_says_how_far_it_got_in_plain_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter(float(t) for t in range(0, 100, 3))
    monkeypatch.setattr(progress_module, "_clock", lambda: next(clock))
    out = io.StringIO()

    with progress("replaying", 10, out) as advance:
        for _ in range(4):
            advance(2)

    lines = out.getvalue().splitlines()
    assert lines[-1] == "replaying: 8 of 10, done"
    assert all(line.startswith("replaying: ") for line in lines)
    assert "\r" not in out.getvalue()
    assert "\x1b" not in out.getvalue()
    assert 1 <= len(lines) - 1 <= 4  # not one line per item: one per 5 s of the fake clock


def test_a_total_not_known_is_a_plain_count(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 6.0, 6.0])
    monkeypatch.setattr(progress_module, "_clock", lambda: next(clock))
    out = io.StringIO()
    with progress("reading", None, out) as advance:
        advance(3)
    assert out.getvalue() == "reading: 3\nreading: 3, done\n"


def test_quick_work_off_a_terminal_says_nothing() -> None:
    out = io.StringIO()
    with progress("reading", 10, out) as advance:
        advance(10)
    assert out.getvalue() == ""


def test_on_a_terminal_it_draws_a_bar_that_ends_full() -> None:
    out = Terminal()
    with progress("replaying", 4, out) as advance:
        advance(4)
    assert "replaying" in out.getvalue()
    assert "4/4" in out.getvalue()
