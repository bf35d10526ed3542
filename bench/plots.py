"""PNG pictures of the benchmark runs, for docs/benchmarks.md: look, do not read, to see
that IO's rate was kept.

Pure functions from `bench.series` values to files (matplotlib's object API on the Agg
backend: no display, no global pyplot state). The rate picture plots the accepted calls in
the trailing `period_s` seconds, the very quantity IO's gateway caps, against the cap: a
point above the dashed line would be a breach, a line hugging it is the account fully used.
A per-second plot against `calls / period_s` would not show that: the first window's burst
is legal and would tower over the rest. File names come from the series' names only, so a
new run overwrites the last one's pictures and the links in the document stay valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.harness import percentile
from bench.series import LatencySeries, RateSeries

# Only pyplot reads the backend; chosen anyway, so nothing here ever looks for a display.
matplotlib.use("Agg")

DPI = 100
LIMIT_COLOUR, ACCEPTED_COLOUR, SUBMITTED_COLOUR = "tab:red", "tab:blue", "tab:green"


def plot_rate(series: RateSeries, directory: Path) -> Path:
    """`<name>.png`: accepted calls per trailing window against the limit, 429s below."""
    start = min([*series.seconds, *series.submitted], default=0)
    end = max([*series.seconds, *series.submitted], default=start)
    xs = list(range(end - start + 1))
    accepted = [_accepted(series, start + x) for x in xs]
    refused = [series.seconds.get(start + x, (0, 0))[1] for x in xs]
    submits = [series.submitted.get(start + x, 0) for x in xs]
    in_window = _trailing(accepted, series.period_s)
    figure = Figure(figsize=(10, 6.5), dpi=DPI, layout="constrained")
    rate, refusals = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    busiest = max(in_window, default=0)
    rate.set_title(
        f"{series.title}\nbusiest {series.period_s}-s window: {busiest} of {series.calls} "
        f"calls; {sum(refused)} answered 429"
    )
    rate.plot(
        xs, in_window, color=ACCEPTED_COLOUR, linewidth=2, label="IO calls accepted (all routes)"
    )
    rate.plot(
        xs,
        _trailing(submits, series.period_s),
        color=SUBMITTED_COLOUR,
        label="of which messages submitted (201)",
    )
    rate.axhline(
        series.calls,
        color=LIMIT_COLOUR,
        linestyle="--",
        zorder=3,
        label=f"account's rate limit: {series.calls} calls / {series.period_s} s",
    )
    top = series.calls * 1.3
    rate.axhspan(series.calls, top, color=LIMIT_COLOUR, alpha=0.08, label="over the limit")
    rate.set_ylim(0, top)
    rate.set_ylabel(f"calls in the trailing {series.period_s} s")
    rate.legend(loc="lower center", ncols=2, fontsize="small")
    _refusals(refusals, xs, refused)
    for axes in (rate, refusals):
        _mark(axes, series, start)
        axes.grid(alpha=0.3)
    refusals.set_xlabel("seconds since the first IO call")
    return _save(figure, directory / f"{series.name}.png")


def plot_latency(series: LatencySeries, directory: Path) -> Path:
    """`<name>.png`: each message's latency over the run, then their distribution."""
    figure = Figure(figsize=(10, 4.5), dpi=DPI, layout="constrained")
    over_time, spread = figure.subplots(1, 2, width_ratios=[3, 2])
    latencies = [ms for _, ms in series.samples]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    figure.suptitle(f"{series.title}: {series.what}, p50 {p50:,.0f} ms, p99 {p99:,.0f} ms")
    start = min((at for at, _ in series.samples), default=0.0)
    over_time.scatter(
        [at - start for at, _ in series.samples], latencies, s=4, alpha=0.4, label="a message"
    )
    for name, ms, style in (("p50", p50, "-"), ("p99", p99, "--")):
        over_time.axhline(ms, color="black", linestyle=style, label=f"{name} {ms:,.0f} ms")
    over_time.set_xlabel("seconds since the first message done")
    over_time.set_ylabel(f"{series.what} (ms)")
    over_time.set_ylim(bottom=0)
    spread.hist(latencies, bins=40, color=ACCEPTED_COLOUR)
    for ms, style in ((p50, "-"), (p99, "--")):
        spread.axvline(ms, color="black", linestyle=style)
    spread.set_xlabel(f"{series.what} (ms)")
    spread.set_ylabel("messages")
    if latencies:
        over_time.legend(loc="upper right", fontsize="small")
    else:
        for axes in (over_time, spread):
            _note(axes, "no messages")
    for axes in (over_time, spread):
        axes.grid(alpha=0.3)
    return _save(figure, directory / f"{series.name}.png")


def write_all(
    directory: Path, rates: Sequence[RateSeries], latencies: Sequence[LatencySeries]
) -> list[Path]:
    """Every picture of a run, in `directory` (created), in the order given."""
    directory.mkdir(parents=True, exist_ok=True)
    found = [plot_rate(series, directory) for series in rates]
    return found + [plot_latency(series, directory) for series in latencies]


def _accepted(series: RateSeries, second: int) -> int:
    answered, refused = series.seconds.get(second, (0, 0))
    return answered - refused


def _trailing(per_second: Sequence[int], width: int) -> list[int]:
    """At each second, the sum over it and the `width - 1` before: the gateway's window
    (whole seconds [s - width + 1, s + 1), half-open, so at most `calls` when kept)."""
    return [sum(per_second[max(0, i - width + 1) : i + 1]) for i in range(len(per_second))]


def _refusals(axes: Axes, xs: Sequence[int], refused: Sequence[int]) -> None:
    axes.bar(xs, refused, width=1.0, color=LIMIT_COLOUR)
    axes.set_ylabel("429s per second")
    axes.set_ylim(0, max([1, *refused]) * 1.2)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not any(refused):
        _note(axes, "no 429s")


def _mark(axes: Axes, series: RateSeries, start: int) -> None:
    """A dotted vertical line, labelled at the top, where a replica joined or left."""
    for at, what in series.marks:
        axes.axvline(at - start, color="grey", linestyle=":")
        axes.text(at - start, 1.0, f" {what}", transform=axes.get_xaxis_transform(), va="top")


def _note(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", color="grey")


def _save(figure: Figure, path: Path) -> Path:
    # No version or date in the metadata: the same run draws the same bytes.
    figure.savefig(path, format="png", metadata={"Software": None})
    return path
