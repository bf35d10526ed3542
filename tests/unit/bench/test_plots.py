"""bench.plots draws valid PNGs from hand-made series, with and without 429s."""

from __future__ import annotations

from pathlib import Path

from bench.plots import plot_latency, plot_rate, write_all
from bench.series import LatencySeries, RateSeries, epoch_second

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = 1_800_000_000
NON_TRIVIAL_BYTES = 10_000
"""A blank 1000 x 650 canvas compresses to a few kB; axes, lines and text take more."""


def rate_series(*, refused: int) -> RateSeries:
    """A minute at the limit: the first window's burst of 150, then 30 a second; `refused`
    429s in second 7, and a replica joining at second 20."""
    seconds = {START: (150 + refused, refused)}
    seconds |= {START + s: (30, 0) for s in range(5, 60)}
    submitted = {second: answered // 2 for second, (answered, _) in seconds.items()}
    return RateSeries(
        "goodput" if refused else "quiet",
        "synthetic: 150 calls / 5 s",
        150,
        5,
        seconds,
        submitted,
        marks=[(START + 20.5, "joined")],
    )


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert path.stat().st_size > NON_TRIVIAL_BYTES


def test_rate_plot_is_a_png(tmp_path: Path) -> None:
    path = plot_rate(rate_series(refused=4), tmp_path)
    assert path == tmp_path / "goodput.png"
    assert_png(path)


def test_rate_plot_without_429s_still_draws(tmp_path: Path) -> None:
    assert_png(plot_rate(rate_series(refused=0), tmp_path))


def test_latency_plot_is_a_png(tmp_path: Path) -> None:
    samples = [(START + i / 200, 100.0 + (i * 37) % 80) for i in range(2_000)]
    series = LatencySeries("delivery-latency", "synthetic", "event → status record", samples)
    path = plot_latency(series, tmp_path)
    assert path == tmp_path / "delivery-latency.png"
    assert_png(path)


def test_empty_series_draw_without_failing(tmp_path: Path) -> None:
    rate = RateSeries("empty-rate", "nothing", 150, 5, {}, {})
    latency = LatencySeries("empty-latency", "nothing", "event → status record", [])
    paths = write_all(tmp_path / "pictures", [rate], [latency])
    assert [p.name for p in paths] == ["empty-rate.png", "empty-latency.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_same_series_same_bytes(tmp_path: Path) -> None:
    """No date or version in the file: a rerun of the same figures changes nothing."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    drawn = [plot_rate(rate_series(refused=4), where) for where in (first, second)]
    assert drawn[0].read_bytes() == drawn[1].read_bytes()


def test_epoch_second_reads_io_timestamps() -> None:
    assert epoch_second("2027-01-15T08:00:00.999Z") == 1_800_000_000  # 2027-01-15T08:00:00Z
