from consumer.runtime.window import WindowStats


def test_window_summary_in_milliseconds() -> None:
    stats = WindowStats()
    for seconds in [0.001 * n for n in range(1, 101)]:
        stats.add(seconds)
    stats.add(-0.5)  # clocks: never below zero

    summary = stats.summary()

    assert summary["count"] == 101
    assert summary["p50_ms"] == 50.0
    assert summary["p99_ms"] == 99.0
    assert summary["max_ms"] == 100.0
