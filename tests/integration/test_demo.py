"""`make demo` stays true: the demo script against the real broker prints every outcome, and
the lifecycle of every message IO accepted."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.integration.samples import EXAMPLES, EXPECTED_OUTCOMES

# What the demo shows after SUBMITTED: each message processed; the Premium TARI notice, which
# the demo marks read and paid in the sandbox, READ and PAID; the Premium certificate READ.
EXPECTED_LIFECYCLE = [
    ("demo-0001", "tari-notice", "PROCESSED"),
    ("demo-0001", "tari-notice", "READ"),
    ("demo-0001", "tari-notice", "PAID"),
    ("demo-0002", "generic-notice", "PROCESSED"),
    ("demo-0003", "document-ready", "PROCESSED"),
    ("demo-0003", "document-ready", "READ"),
]
# The certificate, opened by the citizen through io-relay content (a generated PDF).
DOWNLOAD = re.compile(
    r"'Certificato di residenza': downloaded 'Certificato di residenza\.pdf', [\d,]+ bytes "
    r"\(application/pdf\)"
)

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
    # file, event, rule, stage, outcome[, detail]
    rows = [line.split() for line in demo.stdout.splitlines()]
    for event_id, rule, outcome in [*EXPECTED_OUTCOMES, *EXPECTED_LIFECYCLE]:
        matching = [r for r in rows if r[1:3] == [event_id or "-", rule or "-"] and outcome in r]
        assert len(matching) == 1, f"{event_id} {rule} {outcome} not once in:\n{demo.stdout}"
    records = len(EXPECTED_OUTCOMES) + len(EXPECTED_LIFECYCLE)
    summary = f"{records} status records, 2 dead letters, 3 messages accepted by the IO sandbox"
    assert summary in demo.stdout
    assert "the citizen opened 1 attachment(s) through io-relay content:" in demo.stdout
    assert len(DOWNLOAD.findall(demo.stdout)) == 1, demo.stdout
    assert "what the citizen's app shows, 3 message(s) (io-relay preview):" in demo.stdout
    previews = EXAMPLES.parent / ".cache" / "demo-previews"
    pages = ["tari-notice.it_IT", "generic-notice.it_IT", "document-ready.it_IT"]
    for page in pages:
        assert f"  .cache/demo-previews/{page}.html" in demo.stdout.splitlines()
    assert "Scade il 31 marzo 2027" in (previews / "tari-notice.it_IT.html").read_text()
    assert "Certificato di residenza.pdf" in (previews / "document-ready.it_IT.html").read_text()
