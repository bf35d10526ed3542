"""`make demo` stays true: the demo script against the real broker prints every outcome."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.samples import EXAMPLES, EXPECTED_OUTCOMES

pytestmark = pytest.mark.kafka


def test_demo_prints_one_outcome_per_sample_event(kafka_bootstrap: str) -> None:
    demo = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        env={**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert demo.returncode == 0, demo.stderr
    rows = [line.split() for line in demo.stdout.splitlines()]
    for event_id, rule, outcome in EXPECTED_OUTCOMES:
        matching = [r for r in rows if r[1:2] == [event_id or "-"] and outcome in r]
        assert len(matching) == 1, f"{event_id} {rule} {outcome} not once in:\n{demo.stdout}"
    assert "8 status records, 2 dead letters, 3 messages accepted by the IO sandbox" in demo.stdout
