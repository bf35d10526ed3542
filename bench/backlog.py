"""Backlog: a million events waiting when io-relay starts; its memory through the run.

1,000,000 valid events that the example rules skip wait in a 4-partition topic (about
330 MB). io-relay reads them all, publishing a SKIPPED status record for each, while its
resident memory is sampled every quarter second. Printed: the peak (the kernel's high-water
mark; target < 200 MB) and whether memory stays flat: the largest sample of the last half
of the run against the largest of the first half.

    .venv/bin/python -m bench.backlog [--events 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.harness import (
    Row,
    broker,
    delete_topics,
    end_offsets,
    internal_document,
    new_topics,
    produce,
    relay_config,
    run_relay,
)

PARTITIONS = 4
TARGET_MB = 200
FLAT_WITHIN = 1.10  # the second half may use 10 % more than the first and still be flat


def measure(events: int) -> list[Row]:
    bootstrap = broker()
    topics = new_topics(bootstrap, "backlog", PARTITIONS)
    try:
        produced = produce(bootstrap, topics.events, map(internal_document, range(events)))
        assert produced == events, f"only {produced} of {events} events were acknowledged"
        with tempfile.TemporaryDirectory(prefix="bench-backlog-") as workdir:
            config = relay_config(
                Path(workdir) / "relay.yaml", bootstrap, topics, "http://127.0.0.1:9"
            )
            run = run_relay(config, Path(workdir) / "relay.log")
        reported = end_offsets(bootstrap, topics.status, PARTITIONS)
    finally:
        delete_topics(bootstrap, topics)
    assert reported == events, f"{reported} status records for {events} events"
    samples = run.rss_samples
    half = run.wall_s / 2
    first = max(rss for at, rss in samples if at <= half)
    second = max(rss for at, rss in samples if at > half)
    flat = second <= first * FLAT_WITHIN
    peak_mb = run.peak_rss / 2**20
    name = f"backlog: {events:,} events waiting"
    halves = f"{first / 2**20:.0f} → {second / 2**20:.0f} MB"
    whole_run = f"{run.wall_s:.0f} s, {events / run.wall_s:,.0f} events/s"
    return [
        Row(
            name, "io-relay peak RSS", f"{peak_mb:.0f} MB", f"< {TARGET_MB} MB", peak_mb < TARGET_MB
        ),
        Row(name, "RSS, max of 1st half → 2nd half", halves, "flat", flat),
        Row(name, "run (start to idle exit)", whole_run),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    options = parser.parse_args(argv)
    for row in measure(options.events):
        print(f"{row.figure:<36} {row.value:>24}  {row.target}")


if __name__ == "__main__":
    main()
