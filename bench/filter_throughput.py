"""Filter throughput: events that no rule sends, consumed, decoded, routed and reported.

200,000 valid `document.ready` events of category `internal` (the example rules skip them)
wait in a 4-partition topic. io-relay reads them all and publishes a SKIPPED status record
for each; beside it, a bare loop over the same topic with confluent-kafka only parses the
JSON. The ratio of the two rates is the figure (target ≥ 0.3, and ≥ 20,000 events/s).

    .venv/bin/python -m bench.filter_throughput [--events 200000] [--max-in-flight N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.harness import (
    Row,
    broker,
    delete_topics,
    internal_document,
    new_topics,
    produce,
    rate,
    read_all,
    reader,
    relay_config,
    run_relay,
)

PARTITIONS = 4
TARGET_RATIO, TARGET_RATE = 0.3, 20_000


def bare_loop(bootstrap: str, topic: str, expected: int) -> float:
    """The floor of any Python consumer: fetch and parse, nothing else. Events/s."""
    consumer = reader(bootstrap, topic, "bench-bare")
    seen, first = 0, 0.0
    try:
        while seen < expected:
            for message in consumer.consume(500, 1.0):
                if message.error() is None:
                    json.loads(message.value() or b"")
                    seen += 1
                    if seen == 1:
                        first = time.perf_counter()
    finally:
        consumer.close()
    return (expected - 1) / (time.perf_counter() - first)


def measure(events: int, max_in_flight: int) -> list[Row]:
    bootstrap = broker()
    topics = new_topics(bootstrap, "filter", PARTITIONS)
    try:
        produced = produce(bootstrap, topics.events, map(internal_document, range(events)))
        assert produced == events, f"only {produced} of {events} events were acknowledged"
        bare = bare_loop(bootstrap, topics.events, events)
        with tempfile.TemporaryDirectory(prefix="bench-filter-") as workdir:
            config = relay_config(
                Path(workdir) / "relay.yaml",
                bootstrap,
                topics,
                "http://127.0.0.1:9",  # no event reaches IO: any call would fail the run
                max_in_flight=max_in_flight,
            )
            run = run_relay(config, Path(workdir) / "relay.log")
        statuses = read_all(bootstrap, topics.status, events)
    finally:
        delete_topics(bootstrap, topics)
    outcomes = Counter(json.loads(s.value)["outcome"] for s in statuses)
    assert outcomes == {"SKIPPED": events}, f"unexpected outcomes: {outcomes}"
    relay = rate(len(statuses), [s.timestamp_ms for s in statuses])
    ratio = relay / bare
    name = f"filter: {events:,} skipped events"
    return [
        Row(name, "bare loop (consume + json.loads)", f"{bare:,.0f} events/s"),
        Row(name, "io-relay", f"{relay:,.0f} events/s", f"≥ {TARGET_RATE:,}", relay >= TARGET_RATE),
        Row(
            name, "io-relay / bare loop", f"{ratio:.2f}", f"≥ {TARGET_RATIO}", ratio >= TARGET_RATIO
        ),
        Row(name, "io-relay peak RSS", f"{run.peak_rss / 2**20:.0f} MB"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--max-in-flight", type=int, default=256)
    options = parser.parse_args(argv)
    for row in measure(options.events, options.max_in_flight):
        print(f"{row.figure:<36} {row.value:>18}  {row.target}")


if __name__ == "__main__":
    main()
