"""Goodput: how much of an IO account's rate io-relay uses, under IO's production policy.

5,000 TARI notices for 1,000 citizens (five each, so the profile cache saves some checks)
wait in a 4-partition topic; the sandbox enforces 150 calls per 5 s for the account and
answers after 20 ms; io-relay is configured with the same policy. Printed: the share of the
allowed call rate used in steady state (target ≥ 95 %), the share of calls answered 429
(target < 1 %), and the IO calls spent per delivered message. About three minutes: the
account allows 30 calls a second.

    .venv/bin/python -m bench.goodput [--events 5000] [--citizens 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.harness import (
    Row,
    broker,
    calls,
    delete_topics,
    new_topics,
    produce,
    read_all,
    relay_config,
    run_relay,
    sandbox,
    sandbox_stats,
    tari_notice,
)
from bench.series import RateSeries, submitted, timeline

CALLS, PERIOD_S = 150, 5
ALLOWED_PER_S = CALLS / PERIOD_S
LATENCY_MS = 20
TARGET_SHARE, TARGET_429 = 0.95, 0.01


def measure(events: int, citizens: int, *, series: list[RateSeries] | None = None) -> list[Row]:
    """The table's rows; the run's calls, 429s and submits per second appended to `series`."""
    bootstrap = broker()
    topics = new_topics(bootstrap, "goodput", 4)
    try:
        produce(bootstrap, topics.events, (tari_notice(i, i % citizens) for i in range(events)))
        with (
            tempfile.TemporaryDirectory(prefix="bench-goodput-") as workdir,
            sandbox(
                Path(workdir), citizens, rate_limit=f"{CALLS}/{PERIOD_S}s", latency_ms=LATENCY_MS
            ) as base_url,
        ):
            config = relay_config(
                Path(workdir) / "relay.yaml",
                bootstrap,
                topics,
                base_url,
                calls=CALLS,
                per_seconds=PERIOD_S,
            )
            run_relay(config, Path(workdir) / "relay.log")
            stats = sandbox_stats(base_url)
            seconds, submits = timeline(base_url), submitted(base_url)
        statuses = read_all(bootstrap, topics.status, events)
    finally:
        delete_topics(bootstrap, topics)
    outcomes = Counter(json.loads(s.value)["outcome"] for s in statuses)
    assert outcomes == {"SUBMITTED": events}, outcomes
    stamps = [s.timestamp_ms for s in statuses]
    span_s = (max(stamps) - min(stamps)) / 1000
    total = calls(stats)
    refused = int(stats["rate_limited"])
    # Steady state: the first window may spend its 150 calls at once, so they are not counted.
    share = (total - refused - CALLS) / span_s / ALLOWED_PER_S
    refused_share = refused / total
    name = f"goodput: {events:,} events at {CALLS} calls / {PERIOD_S} s"
    refusals = f"{refused_share:.2%} ({refused} of {total})"
    if series is not None:
        series.append(RateSeries("goodput", name, CALLS, PERIOD_S, seconds, submits))
    return [
        Row(
            name,
            "share of the allowed call rate",
            f"{share:.1%}",
            "≥ 95 %",
            share >= TARGET_SHARE,
            number=share,
        ),
        Row(name, "calls answered 429", refusals, "< 1 %", refused_share < TARGET_429),
        Row(name, "events/s", f"{events / span_s:.1f}"),
        # Profile checks the cache saved, submits, 429s retried: what a message costs the account.
        Row(name, "IO calls per delivered message", f"{total / events:.2f}"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--citizens", type=int, default=1_000)
    options = parser.parse_args(argv)
    for row in measure(options.events, options.citizens):
        print(f"{row.figure:<36} {row.value:>24}  {row.target}")


if __name__ == "__main__":
    main()
