"""Progress of long operator work: a bar on a terminal, plain lines in a log or a pipe.

A bar redrawn in place is unreadable once captured by `kubectl logs` or a CI job, and a
line per item floods them; off a terminal the work says how far it got every few seconds
(and, if it said anything, that it ended).
Both go to stderr, so stdout stays the command's answer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Advance = Callable[[int], None]
"""Called with how many more items are done."""

PLAIN_EVERY_S = 5.0
_clock = time.monotonic


@contextmanager
def progress(what: str, total: int | None, stream: TextIO | None = None) -> Iterator[Advance]:
    """Report `what` (a verb phrase: "replaying dead letters") as items get done."""
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        with _bar(what, total, out) as advance:
            yield advance
        return
    done = 0
    started = said_at = _clock()

    def count_up(n: int) -> None:
        nonlocal done, said_at
        done += n
        if _clock() - said_at >= PLAIN_EVERY_S:
            said_at = _clock()
            out.write(f"{what}: {_count(done, total)}\n")
            out.flush()

    yield count_up
    if said_at > started:  # quick work says nothing: only what took a while says it ended
        out.write(f"{what}: {_count(done, total)}, done\n")
        out.flush()


@contextmanager
def _bar(what: str, total: int | None, out: TextIO) -> Iterator[Advance]:
    columns = [TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(file=out), transient=False) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


def _count(done: int, total: int | None) -> str:
    return f"{done}" if total is None else f"{done} of {total}"
