"""Render: the cost of turning one event into one IO message, per (event, rule).

In-process, no Kafka and no IO: the example rules, and each example event that a rule sends
(a TARI notice, a notice with a payee, a document ready). Each is rendered 2,000 times, nine
rounds, and the fastest round counts (the others lost time to the machine, not to render).
Beside it, in the same run, the same message's body validated once more by pydantic, the
floor any render pays: the ratio says how much of a render is the rule's own work.

    .venv/bin/python -m bench.render [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from bench.harness import REPO, RULES, Row
from consumer.config import Settings
from consumer.events import InputRecord, decode
from consumer.io import NewMessage
from consumer.rules import render, route
from consumer.runtime.app import load_contracts

EVENTS = ("01-tari-notice.json", "02-notice-with-payee.json", "03-document-ready.binary.json")
PER_ROUND = 2_000
TARGET_US = 50.0


def fastest_us(work: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            work()
        best = min(best, (time.perf_counter() - started) / PER_ROUND)
    return best * 1e6


def _record(path: Path) -> InputRecord:
    """A structured example is the record's value; a binary one describes its headers and
    value, as the demo sends it."""
    raw = path.read_bytes()
    if not path.name.endswith(".binary.json"):
        return InputRecord("bench", 0, 0, None, raw)
    described = json.loads(raw)
    headers = tuple((k, v.encode()) for k, v in described["headers"].items())
    return InputRecord("bench", 0, 0, None, json.dumps(described["data"]).encode(), headers)


def measure(rounds: int = 9) -> list[Row]:
    types, rules = load_contracts(Settings(rules={"paths": [RULES]}))
    rows = []
    for name in EVENTS:
        event = decode(_record(REPO / "examples" / "events" / name), types)
        for rule in route(rules, event):
            message = render(rule, event, (), types.fiscal_codes)
            body = message.model_dump(exclude_none=True)
            spent = fastest_us(partial(render, rule, event, (), types.fiscal_codes), rounds)
            validate = partial(NewMessage.model_validate, body, strict=False)
            floor = fastest_us(validate, rounds)
            scenario = f"render: {name}, rule {rule.name}"
            met = spent <= TARGET_US
            rows += [
                Row(scenario, "per (event, rule)", f"{spent:.1f} µs", f"≤ {TARGET_US:.0f} µs", met),
                Row(scenario, "of which a body validation", f"{floor:.1f} µs"),
                Row(scenario, "render / validation", f"{spent / floor:.1f} x"),
            ]
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    options = parser.parse_args(argv)
    for row in measure(options.rounds):
        print(f"{row.scenario:<52} {row.figure:<28} {row.value:>10}  {row.target}")


if __name__ == "__main__":
    main()
