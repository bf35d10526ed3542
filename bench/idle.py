"""Idle cost: the CPU an io-relay replica burns with nothing to do.

A relay that owns its partitions and has no event waits: for the broker, the sandbox, the
clock. What it spends then is paid by every replica of every install, all day. Measured: the
CPU time (user + system, /proc) the relay process uses over `--seconds` once it owns its
partitions, as a share of one core, against the target of 1 %; and the wake-ups of its
busiest thread (voluntary context switches per second), which a timer polling on the event
loop shows first.

    .venv/bin/python -m bench.idle [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.harness import (
    PYTHON,
    REPO,
    Row,
    broker,
    delete_topics,
    new_topics,
    relay_config,
    sandbox,
)

TARGET_SHARE = 0.01
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def wakeups(pid: int) -> int:
    """Voluntary context switches, summed over the process's threads."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                total += int(line.split()[1])
    return total


def measure(seconds: float) -> list[Row]:
    bootstrap = broker()
    topics = new_topics(bootstrap, "idle", 3)
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            with sandbox(work, citizens=10) as base_url:
                config = relay_config(work / "config.yaml", bootstrap, topics, base_url)
                log = work / "relay.log"
                with log.open("w") as out:
                    relay = subprocess.Popen(
                        [PYTHON, "-m", "consumer", "run", "--config", str(config)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=REPO,
                    )
                try:
                    deadline = time.monotonic() + 60
                    while "partitions assigned" not in log.read_text():
                        if relay.poll() is not None or time.monotonic() > deadline:
                            raise SystemExit(f"bench: the relay did not start:\n{log.read_text()}")
                        time.sleep(0.1)
                    time.sleep(2.0)  # start-up's own work done
                    cpu_before, woke_before = cpu_seconds(relay.pid), wakeups(relay.pid)
                    time.sleep(seconds)
                    cpu = cpu_seconds(relay.pid) - cpu_before
                    woke = wakeups(relay.pid) - woke_before
                finally:
                    relay.terminate()
                    relay.wait(30)
    finally:
        delete_topics(bootstrap, topics)
    share = cpu / seconds
    scenario = f"idle relay, {seconds:.0f} s"
    return [
        Row(
            scenario,
            "CPU, share of one core",
            f"{share:.2%}",
            target="< 1 %",
            met=share < TARGET_SHARE,
            number=share,
        ),
        Row(scenario, "wake-ups (all threads)", f"{woke / seconds:,.0f}/s"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    options = parser.parse_args(argv)
    for row in measure(options.seconds):
        met = "" if row.met is None else ("met" if row.met else "NOT MET")
        print(f"{row.scenario:<24} {row.figure:<28} {row.value:>10}  {row.target} {met}")


if __name__ == "__main__":
    main()
