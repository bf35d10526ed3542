"""`make bench`: every relay benchmark, one table, also written to docs/benchmarks.md.

Starts the local broker (deploy/local/kafka.sh) and, per scenario, the IO sandbox; runs the
sequential baseline on the delivery and goodput scenarios so io-relay's figures read as
ratios against it. The rate-limited runs (goodput, replicas) and the paced delivery-latency
run are also drawn (`bench.plots`) as PNGs in docs/benchmarks/, which the document links.
About 17 minutes with the issues' sizes; `--quick` runs each at a tenth to check the
machinery.

    .venv/bin/python -m bench.run_all [--quick]
        [--only render,filter,delivery,goodput,backlog,tracking,replicas]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import (
    backlog,
    delivery_throughput,
    filter_throughput,
    goodput,
    plots,
    render,
    replicas,
    tracking_book,
)
from bench.harness import REPO, Row, broker, cores
from bench.sequential_baseline import run_baseline
from bench.series import LatencySeries, RateSeries

DOC = REPO / "docs" / "benchmarks.md"
PICTURES = DOC.with_suffix("")
"""docs/benchmarks/: the PNGs, beside the document that links them."""
TEMPLATE = Path(__file__).with_name("benchmarks.template.md")
BASELINE_EVENTS = 600
CALLS, PERIOD_S = goodput.CALLS, goodput.PERIOD_S


def _baseline(scenario: str, events: int, *, rate_limit: str, latency_ms: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as workdir:
        run = run_baseline(
            broker(), Path(workdir), events, rate_limit=rate_limit, latency_ms=latency_ms
        )
    name = f"baseline (sequential): {scenario}"
    rows = [
        Row(name, "events/s", f"{run.events_per_s:,.1f}", number=run.events_per_s),
        Row(name, "IO calls/s", f"{run.calls_per_s:,.1f}"),
    ]
    if rate_limit != "off":
        accepted = run.calls - run.rate_limited
        share = (accepted - CALLS) / run.seconds / (CALLS / PERIOD_S)
        rows += [
            Row(name, "share of the allowed call rate", f"{share:.1%}", number=share),
            Row(name, "calls answered 429", f"{run.rate_limited / run.calls:.2%}"),
        ]
    return rows


def _compared(relay: list[Row], baseline: list[Row], figure: str, label: str) -> list[Row]:
    """io-relay's rows, the baseline's, and the ratio of one figure between them."""

    def number(rows: list[Row]) -> float:
        return next(r.number for r in rows if r.figure == figure and r.number is not None)

    ratio = number(relay) / number(baseline)
    return [*relay, *baseline, Row(relay[0].scenario, label, f"{ratio:,.1f} x")]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of each size")
    parser.add_argument(
        "--only", default="render,filter,delivery,goodput,backlog,tracking,replicas"
    )
    options = parser.parse_args(argv)
    scale = 10 if options.quick else 1
    wanted = set(options.only.split(","))
    rows: list[Row] = []
    rates: list[RateSeries] = []
    latencies: list[LatencySeries] = []

    def section(name: str, run: Callable[[], list[Row]]) -> None:
        if name in wanted:
            found = run()
            rows.extend(found)
            _print(found)

    section("render", render.measure)
    section("filter", lambda: filter_throughput.measure(200_000 // scale, 256))
    section(
        "delivery",
        lambda: _compared(
            delivery_throughput.measure(20_000 // scale, 200.0, 256, series=latencies),
            _baseline(
                "delivery",
                BASELINE_EVENTS // scale,
                rate_limit="off",
                latency_ms=delivery_throughput.LATENCY_MS,
            ),
            "events/s",
            "events/s against the baseline",
        ),
    )
    section(
        "goodput",
        lambda: _compared(
            goodput.measure(5_000 // scale, 1_000 // scale, series=rates),
            _baseline(
                "goodput",
                BASELINE_EVENTS // scale,
                rate_limit=f"{CALLS}/{PERIOD_S}s",
                latency_ms=goodput.LATENCY_MS,
            ),
            "share of the allowed call rate",
            "share against the baseline",
        ),
    )
    section("backlog", lambda: backlog.measure(1_000_000 // scale))
    section("tracking", lambda: tracking_book.measure(50_000 // scale))
    section("replicas", lambda: replicas.measure(2_100 // scale, series=rates))
    drawn = plots.write_all(PICTURES, rates, latencies)
    _write(rows, options.quick, _pictures(rates, latencies, drawn))


def _print(rows: Sequence[Row]) -> None:
    for row in rows:
        verdict = "" if row.met is None else ("met" if row.met else "NOT MET")
        print(
            f"{row.scenario[:44]:<44} {row.figure:<34} {row.value:>26} {row.target:>10} {verdict}"
        )


def _table(rows: Sequence[Row]) -> str:
    lines = ["| scenario | figure | value | target | |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        verdict = "" if row.met is None else ("met" if row.met else "**not met**")
        lines.append(f"| {row.scenario} | {row.figure} | {row.value} | {row.target} | {verdict} |")
    return "\n".join(lines)


def _pictures(
    rates: Sequence[RateSeries], latencies: Sequence[LatencySeries], drawn: Sequence[Path]
) -> str:
    """Markdown images of the PNGs drawn, linked relative to the document (GitHub shows them)."""
    if not drawn:
        return "None this run: `--only` left out goodput, replicas and delivery."
    titles = [series.title for series in rates] + [series.title for series in latencies]
    return "\n\n".join(
        f"![{title}]({DOC.stem}/{path.name})" for title, path in zip(titles, drawn, strict=True)
    )


def _write(rows: Sequence[Row], quick: bool, pictures: str) -> None:
    machine = f"{cores()} cores, {platform.machine()}, Python {platform.python_version()}"
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick run (a tenth of each size)" if quick else "full run"
    DOC.parent.mkdir(exist_ok=True)
    template = TEMPLATE.read_text(encoding="utf-8")
    DOC.write_text(
        template.format(
            machine=machine, when=when, kind=kind, table=_table(rows), pictures=pictures
        ),
        encoding="utf-8",
    )
    print(f"\n{machine}; written to {DOC.relative_to(REPO)} (pictures in {PICTURES.name}/)")


if __name__ == "__main__":
    main()
