"""The baseline: the simplest correct consumer a team would write first.

One event at a time: poll, parse, check the profile, submit, publish the status record and
wait for Kafka's acknowledgement, commit synchronously. On a 429 it waits what IO says
(x-rate-limit-retry-after, else Retry-After, else 1 s) and tries again. Correct (at least
once, nothing lost, no auto-commit), and as slow as IO's latency makes it: io-relay's figures
are shown as ratios against this one.

    .venv/bin/python -m bench.sequential_baseline [--events 600] [--rate-limit 150/5s|off]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from bench.harness import (
    Topics,
    broker,
    delete_topics,
    new_topics,
    produce,
    reader,
    sandbox,
    tari_notice,
)

KEY_HEADER = "Ocp-Apim-Subscription-Key"
IDLE_S = 3.0


@dataclass(frozen=True)
class BaselineRun:
    events: int
    seconds: float
    """From the first event read to the last one committed."""
    calls: int
    rate_limited: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds


class SequentialConsumer:
    def __init__(self, bootstrap: str, topics: Topics, base_url: str, key: str) -> None:
        self._consumer = reader(bootstrap, topics.events, "baseline")
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"}
        )
        self._http = httpx.Client(base_url=base_url, headers={KEY_HEADER: key}, timeout=30)
        self._status_topic = topics.status
        self.calls = 0
        self.rate_limited = 0

    def run(self, expected: int) -> BaselineRun:
        handled, first = 0, 0.0
        idle_since = time.monotonic()
        while handled < expected and time.monotonic() - idle_since < IDLE_S * 10:
            message = self._consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            first = first or time.perf_counter()
            self._handle(json.loads(message.value() or b""))
            self._consumer.commit(message=message, asynchronous=False)
            handled += 1
            idle_since = time.monotonic()
        seconds = time.perf_counter() - first
        self._consumer.close()
        self._http.close()
        return BaselineRun(handled, seconds, self.calls, self.rate_limited)

    def _handle(self, event: dict[str, Any]) -> None:
        data = event["data"]
        code = data["recipient_fiscal_code"]
        outcome, message_id = "NOT_SENT_PROFILE_NOT_FOUND", None
        profile = self._call("GET", f"/api/v1/profiles/{code}")
        if profile.status_code == 200 and profile.json().get("sender_allowed"):
            answer = self._call("POST", "/api/v1/messages", _message(code, data))
            outcome = "SUBMITTED" if answer.status_code == 201 else "FAILED"
            message_id = answer.json().get("id") if answer.status_code == 201 else None
        status = {"event_id": event["id"], "outcome": outcome, "io_message_id": message_id}
        self._producer.produce(self._status_topic, json.dumps(status).encode())
        self._producer.flush(30)

    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        while True:
            self.calls += 1
            answer = self._http.request(method, path, json=body)
            if answer.status_code != 429:
                return answer
            self.rate_limited += 1
            wait = answer.headers.get("x-rate-limit-retry-after") or answer.headers.get(
                "retry-after", "1"
            )
            time.sleep(float(wait))


def _message(code: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "fiscal_code": code,
        "time_to_live": 3600,
        "content": {
            "subject": f"Avviso di pagamento {data['category']}",
            "markdown": f"{data['description']}: trova qui il dettaglio dell'avviso. " * 3,
            "payment_data": {
                "amount": data["amount_cents"],
                "notice_number": data["notice_number"],
            },
        },
    }


def run_baseline(
    bootstrap: str, workdir: Path, events: int, *, rate_limit: str, latency_ms: int
) -> BaselineRun:
    topics = new_topics(bootstrap, "baseline", 4)
    try:
        produce(bootstrap, topics.events, (tari_notice(i, i) for i in range(events)))
        with sandbox(workdir, events, rate_limit=rate_limit, latency_ms=latency_ms) as base_url:
            consumer = SequentialConsumer(bootstrap, topics, base_url, "sandbox-key-tari")
            return consumer.run(events)
    finally:
        delete_topics(bootstrap, topics)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--rate-limit", default="off")
    parser.add_argument("--latency-ms", type=int, default=20)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as workdir:
        run = run_baseline(
            broker(),
            Path(workdir),
            options.events,
            rate_limit=options.rate_limit,
            latency_ms=options.latency_ms,
        )
    print(
        f"{run.events} events in {run.seconds:.1f} s: {run.events_per_s:.1f} events/s, "
        f"{run.calls_per_s:.1f} calls/s, {run.rate_limited} answered 429 of {run.calls}"
    )


if __name__ == "__main__":
    main()
