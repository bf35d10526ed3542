"""Replicas: how three relays of one consumer group share one IO account's rate (issue 13).

Three `io-relay run` processes in one group read a 6-partition topic of TARI notices (five
per citizen, so the profile cache saves some checks); the sandbox enforces 150 calls per 5 s
for the one account and answers after 20 ms; each relay is configured with the same policy
and keeps to its share of it. Three scenarios:

- even load: the backlog dealt evenly over the six partitions (≈ 85 s of calls);
- one busy partition: every event on partition 0, the other five empty (≈ 60 s);
- join and leave: two replicas start; a third joins once a third of the events are
  settled, and the first gets SIGTERM once two thirds are (≈ 85 s).

Printed per scenario: the events left without a terminal status (target 0; a run ends once
all have one, or after 60 s without a new status record); the share of the account's rate
used in steady state (the mean fill of IO's 5-s windows, from the sandbox's per-second
timeline, over the middle of the run: the first and last 10 s are left out, so neither the
start-up nor the partitions draining at the end count; targets ≥ 95 % and ≥ 90 %); the
share of ALL the run's calls answered 429 (target < 1 %); the worst 10-s window's 429 share,
sliding by a second (target ≤ 2 % with a join and a leave); the IO calls per delivered
message; the seconds (from the first call) with 429s; the replicas' paces added up
(`io_relay_io_pace_calls` from each one's /metrics, every second: at most 150 keeps the
group within the account). `--single` adds one relay alone, measured the same way;
`--timeline` prints each run's 5-s steps. About 4.5 minutes.

    .venv/bin/python -m bench.replicas [--events 2100] [--single] [--timeline]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean, median
from typing import Any

from confluent_kafka import Producer

from bench.group import Replicas, Trace, replicas
from bench.harness import (
    Record,
    Row,
    Topics,
    broker,
    calls,
    delete_topics,
    end_offsets,
    new_topics,
    read_all,
    relay_config,
    sandbox,
    sandbox_stats,
    tari_notice,
)
from bench.series import RateSeries, submitted, timeline

CALLS, PERIOD_S = 150, 5
LATENCY_MS = 20
PARTITIONS = 6
EVENTS_PER_CITIZEN = 5
EDGE_S = 10
"""Left out of the steady state at each end of the run."""
WINDOW_429_S = 10
TARGET_429, TARGET_WINDOW_429 = 0.01, 0.02
STALL_GIVE_UP_S = 60.0
"""No new status record for this long: the run ends, its unsettled events reported."""


@dataclass(frozen=True)
class Scenario:
    name: str
    events: int
    replicas: int
    share_target: float | None
    one_partition: bool = False
    join_at: float | None = None
    """Share of the events settled when one more replica joins."""
    leave_at: float | None = None
    """Share settled when the first replica gets SIGTERM."""
    slug: str = "replicas"
    """The stem of its picture's file name."""


def records(scenario: Scenario) -> Iterator[tuple[int, Record]]:
    """(partition, record): a citizen's notices on one partition, citizens dealt round."""
    citizens = max(1, scenario.events // EVENTS_PER_CITIZEN)
    for index in range(scenario.events):
        citizen = index % citizens
        partition = 0 if scenario.one_partition else citizen % PARTITIONS
        yield partition, tari_notice(index, citizen)


def produce_placed(bootstrap: str, topic: str, placed: Iterable[tuple[int, Record]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for partition, (key, value) in placed:
        producer.produce(topic, value=value, key=key, partition=partition)
        producer.poll(0)
    if producer.flush(60):
        raise SystemExit("bench: the backlog was not all acknowledged")


def run(bootstrap: str, scenario: Scenario) -> tuple[list[Row], Trace]:
    topics = new_topics(bootstrap, "replicas", PARTITIONS)
    trace = Trace()
    placed = Counter(partition for partition, _ in records(scenario))
    try:
        produce_placed(bootstrap, topics.events, records(scenario))
        citizens = max(1, scenario.events // EVENTS_PER_CITIZEN)
        with (
            tempfile.TemporaryDirectory(prefix="bench-replicas-") as workdir,
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
            with replicas(config, Path(workdir), trace) as group:
                _play(bootstrap, topics, scenario, placed, group)
            stats, trace.seconds = sandbox_stats(base_url), timeline(base_url)
            trace.submitted = submitted(base_url)
        found = settled(bootstrap, topics, placed)
    finally:
        delete_topics(bootstrap, topics)
    assert set(found.outcomes) <= {"SUBMITTED", "DUPLICATE"}, found.outcomes
    return _figures(scenario, stats, trace, found), trace


@dataclass(frozen=True)
class Settled:
    outcomes: Counter[str]
    """Of every status record (DUPLICATE: a re-read event found sent, after a rebalance)."""
    missing: dict[int, int]
    """Partition → its events without a terminal status record."""


def settled(bootstrap: str, topics: Topics, placed: Counter[int]) -> Settled:
    written = end_offsets(bootstrap, topics.status, PARTITIONS)
    found = [json.loads(s.value) for s in read_all(bootstrap, topics.status, written, 30.0)]
    terminal = {
        (f["input"]["partition"], f["input"]["offset"])
        for f in found
        if f["outcome"] != "DUPLICATE"
    }
    per_partition = Counter(partition for partition, _ in terminal)
    missing = {p: n - per_partition[p] for p, n in sorted(placed.items()) if n > per_partition[p]}
    return Settled(Counter(f["outcome"] for f in found), missing)


def _play(
    bootstrap: str, topics: Topics, scenario: Scenario, placed: Counter[int], group: Replicas
) -> None:
    """Start the replicas, join and leave on the way, stop them all once every event has
    its status (or when no status came for STALL_GIVE_UP_S)."""
    for _ in range(scenario.replicas):
        group.start()
    joined, left = scenario.join_at is None, scenario.leave_at is None
    seen, progress_at = -1, time.monotonic()
    while True:
        done = end_offsets(bootstrap, topics.status, PARTITIONS)
        if done >= scenario.events and not settled(bootstrap, topics, placed).missing:
            break
        if done != seen:
            seen, progress_at = done, time.monotonic()
        elif time.monotonic() - progress_at > STALL_GIVE_UP_S:
            break  # reported: the events without a status, by partition
        group.check_alive()
        if not joined and done >= (scenario.join_at or 0) * scenario.events:
            group.start("joined")
            joined = True
        if joined and not left and done >= (scenario.leave_at or 0) * scenario.events:
            group.stop(group.running[:1], "left")
            left = True
        time.sleep(0.5)
    group.stop(list(group.running))


def steady_share(trace: Trace) -> float:
    """The mean of the accepted calls in each 5-s window of the steady middle, over 150."""
    first, last = min(trace.seconds), max(trace.seconds)
    starts = range(first + EDGE_S, last - EDGE_S - PERIOD_S + 2)
    if not starts:
        return math.nan
    accepted = {second: n - refused for second, (n, refused) in trace.seconds.items()}
    return mean(
        sum(accepted.get(start + i, 0) for i in range(PERIOD_S)) / CALLS for start in starts
    )


def worst_window(trace: Trace) -> tuple[float, int]:
    """The highest 429 share of any 10 s (sliding by a second), and when it starts."""
    first, last = min(trace.seconds), max(trace.seconds)
    worst, at = 0.0, first
    for start in range(first, max(first, last - WINDOW_429_S + 1) + 1):
        window = [trace.seconds.get(start + i, (0, 0)) for i in range(WINDOW_429_S)]
        answered, refused = sum(n for n, _ in window), sum(r for _, r in window)
        if answered and refused / answered > worst:
            worst, at = refused / answered, start
    return worst, at - first


def paces_seen(trace: Trace) -> str:
    """The replicas' paces added up, over the steady middle."""
    first, last = min(trace.seconds), max(trace.seconds)
    middle = [sum(p) for at, p in trace.paces if first + EDGE_S <= at < last - EDGE_S]
    return f"{min(middle)}-{max(middle)}, median {median(middle):.0f}" if middle else "n/a"


def when_refused(trace: Trace) -> str:
    """`t+3 s: 4 · joined t+30 s · ...`: the seconds with 429s and the joins and leaves."""
    first = min(trace.seconds)
    found = [(s - first, f"t+{s - first} s: {r}") for s, (_, r) in trace.seconds.items() if r]
    found += [
        (trace.since_first(at), f"{what} t+{trace.since_first(at)} s") for at, what in trace.marks
    ]
    shown = [text for _, text in sorted(found)]
    if len(shown) > 16:
        shown = [*shown[:15], f"… {len(shown) - 15} more"]
    return " · ".join(shown) or "none"


def steps(trace: Trace) -> Iterator[str]:
    """Per 5 s from the first call: calls accepted, 429s, and the last paces seen."""
    first, last = min(trace.seconds), max(trace.seconds)
    for start in range(first, last + 1, PERIOD_S):
        window = [trace.seconds.get(start + i, (0, 0)) for i in range(PERIOD_S)]
        refused = sum(r for _, r in window)
        paces = [p for at, p in trace.paces if start <= at < start + PERIOD_S]
        shown = "+".join(map(str, paces[-1])) if paces else "-"
        marks = [what for at, what in trace.marks if start <= at < start + PERIOD_S]
        yield (
            f"    t+{start - first:>3} s  accepted {sum(n for n, _ in window) - refused:>3}"
            f"  429 {refused:>3}  paces {shown} {' '.join(marks)}"
        )


def _figures(scenario: Scenario, stats: dict[str, Any], trace: Trace, found: Settled) -> list[Row]:
    name = scenario.name
    unsettled = sum(found.missing.values())
    where = ", ".join(f"partition {p}: {n}" for p, n in found.missing.items())
    total = calls(stats)
    refused = int(stats["rate_limited"])
    refused_share = refused / total
    share = steady_share(trace)
    worst, worst_at = worst_window(trace)
    span_s = max(trace.seconds) - min(trace.seconds) + 1
    target = scenario.share_target
    share_row = (
        Row(name, "share of the account's rate (steady)", "n/a: run too short")
        if math.isnan(share)
        else Row(
            name,
            "share of the account's rate (steady)",
            f"{share:.1%}",
            "" if target is None else f"≥ {target:.0%}",
            None if target is None else share >= target,
            number=share,
        )
    )
    moving = scenario.join_at is not None or scenario.leave_at is not None
    return [
        Row(
            name,
            "events without a terminal status",
            f"{unsettled} ({where})" if unsettled else "0",
            "0",
            unsettled == 0,
        ),
        share_row,
        Row(
            name,
            "calls answered 429 (whole run)",
            f"{refused_share:.2%} ({refused} of {total})",
            "< 1 %",
            refused_share < TARGET_429,
        ),
        Row(
            name,
            f"worst {WINDOW_429_S} s: calls answered 429",
            f"{worst:.2%} (from t+{worst_at} s)",
            "≤ 2 %" if moving else "",
            worst <= TARGET_WINDOW_429 if moving else None,
        ),
        Row(name, "IO calls per delivered message", f"{total / scenario.events:.2f}"),
        Row(name, "events read again, found sent (DUPLICATE)", str(found.outcomes["DUPLICATE"])),
        Row(name, "events/s (first to last call)", f"{scenario.events / span_s:.1f}"),
        Row(name, "paces added up (steady, calls/window)", paces_seen(trace)),
        Row(name, "pace lowered by a run of 429s", f"{trace.cuts} times"),
        Row(name, "429s by second from the first call", when_refused(trace)),
    ]


def scenarios(events: int, *, single: bool) -> list[Scenario]:
    busy = events * 5 // 7
    found = [
        Scenario(
            f"replicas: 3, even load, {events:,} events", events, 3, 0.95, slug="replicas-even"
        ),
        Scenario(
            f"replicas: 3, all {busy:,} events on one partition",
            busy,
            3,
            0.90,
            one_partition=True,
            slug="replicas-one-partition",
        ),
        Scenario(
            f"replicas: 2, one joins, one leaves, {events:,} events",
            events,
            2,
            None,
            join_at=1 / 3,
            leave_at=2 / 3,
            slug="replicas-join-leave",
        ),
    ]
    if single:
        found.append(
            Scenario(
                f"replicas: 1 alone, even load, {busy:,} events",
                busy,
                1,
                0.95,
                slug="replicas-single",
            )
        )
    return found


def measure(
    events: int = 2_100, *, single: bool = False, series: list[RateSeries] | None = None
) -> list[Row]:
    """Every scenario's rows; each run's calls, 429s and submits per second (with the joins
    and leaves) appended to `series`."""
    bootstrap = broker()
    rows: list[Row] = []
    for scenario in scenarios(events, single=single):
        found, trace = run(bootstrap, scenario)
        rows += found
        if series is not None:
            series.append(rate_series(scenario, trace))
    return rows


def rate_series(scenario: Scenario, trace: Trace) -> RateSeries:
    return RateSeries(
        scenario.slug,
        scenario.name,
        CALLS,
        PERIOD_S,
        trace.seconds,
        trace.submitted,
        trace.marks,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_100)
    parser.add_argument("--single", action="store_true", help="also one relay alone")
    parser.add_argument("--timeline", action="store_true", help="print each run's 5-s steps")
    options = parser.parse_args(argv)
    bootstrap = broker()
    for scenario in scenarios(options.events, single=options.single):
        print(scenario.name, flush=True)
        rows, trace = run(bootstrap, scenario)
        for row in rows:
            print(f"  {row.figure:<40} {row.value}  {row.target}", flush=True)
        if options.timeline:
            print("\n".join(steps(trace)), flush=True)


if __name__ == "__main__":
    main()
