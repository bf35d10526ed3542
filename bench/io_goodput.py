"""How much of an IO account's rate io-relay uses, and how often IO's gateway refuses it.

Starts the IO sandbox as a subprocess on a free loopback port with the production gateway
policy (150 calls per 5 s per account) and a profiles file in which every citizen accepts
messages, then drives the real IoClient and Deliverer (built by the relay's own wiring in
`consumer.runtime.app`) with K concurrent workers. Each event costs two calls, a profile
check then a submit, alternating between two services of ONE account, so both share one
limiter on our side and one window at the gateway. Every event has its own citizen: the
profile cache never saves a call.

Prints one table: the allowed rate, the achieved call rate (first to last call, and
steady-state without the first window's initial burst of 150), the share of the allowed
rate used (target ≥ 95 %), calls answered 429 as the sandbox and the client counted them
(target < 1 %), retries, limiter wait p50/p99 and events/s. `--baseline` runs the same
client without a limiter, the common peer behaviour: 32 workers that call at will and, on a
429, wait x-rate-limit-retry-after and try again. Talks to 127.0.0.1 only, stops by itself.

    .venv/bin/python -m bench.io_goodput [--events 1500] [--seconds S] [--concurrency 32]
        [--latency-ms 20] [--margin-s M] [--baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bench.harness import fiscal_code, sandbox_url
from consumer.config import AccountSettings, IoSettings, RetrySettings, ServiceSettings
from consumer.io import AccountLimiter, IoClient, NewMessage, ProfileCache, RatePolicy
from consumer.io.observer import Endpoint
from consumer.runtime.app import io_client, io_services
from consumer.runtime.deliver import Compose, Deliverer, KeyGuard

CALLS, PERIOD_S = 150, 5  # the production gateway policy, per account
ALLOWED_RATE = CALLS / PERIOD_S
ACCOUNT = "comune"
SERVICES = {"tari": "bench-key-tari", "imu": "bench-key-imu"}  # service → subscription key
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
TARGET_SHARE, TARGET_429 = 0.95, 0.01


def message(fiscal_code: str) -> NewMessage:
    return NewMessage.model_validate(
        {
            "fiscal_code": fiscal_code,
            "time_to_live": 3600,
            "content": {
                "subject": "Avviso di pagamento TARI 2026",
                "markdown": "Gentile contribuente, " + "trova qui il dettaglio dell'avviso. " * 6,
                "payment_data": {"amount": 12_345, "notice_number": "302000100000009421"},
                "due_date": "2026-03-31T21:59:59.000Z",
            },
        }
    )


def composer(fiscal_code: str) -> Compose:
    """The rule's stand-in: the same message whatever the citizen's languages."""
    return lambda _languages: message(fiscal_code)


@dataclass
class Options:
    events: int
    seconds: float | None
    concurrency: int
    latency_ms: int
    margin_s: float
    baseline: bool

    @property
    def mode(self) -> str:
        if self.baseline:
            return "baseline: no limiter, retry after x-rate-limit-retry-after"
        return f"io-relay limiter, margin {self.margin_s:g} s"


@dataclass
class Recorder:
    """The client's IoObserver: what it sent, when, and what came back."""

    starts: list[float] = field(default_factory=list)  # perf_counter, answered non-429 calls
    statuses: Counter[int | None] = field(default_factory=Counter)
    retries: int = 0
    held: int = 0  # 429s the client saw (rate_limited hook)
    waits_s: list[float] = field(default_factory=list)

    def call_finished(self, endpoint: Endpoint, status: int | None, seconds: float) -> None:
        self.statuses[status] += 1
        if status is not None and status != 429:
            self.starts.append(time.perf_counter() - seconds)

    def retrying(self, endpoint: Endpoint, reason: str, wait_s: float) -> None:
        self.retries += 1

    def rate_limited(self, account: str, retry_after_s: float) -> None:
        self.held += 1

    def limiter_waited(self, account: str, seconds: float) -> None:
        self.waits_s.append(seconds)


class NoLimiter(AccountLimiter):
    """The baseline's pacing: none. Every call goes at once, a 429 holds nobody else."""

    def __init__(self) -> None:
        super().__init__(RatePolicy())

    async def acquire(self) -> float:
        return 0.0

    def hold(self, retry_after_s: float) -> None:
        pass

    def observe_remaining(self, remaining: int) -> None:
        pass


@contextmanager
def sandbox(workdir: Path, citizens: int, latency_ms: int) -> Iterator[str]:
    """A sandbox subprocess with the production policy; yields its base URL, stops it on exit."""
    profiles = workdir / "profiles.json"
    document = {
        "profiles": {fiscal_code(i): {"sender_allowed": True} for i in range(citizens)},
        "subscriptions": {
            key: {"service": service, "account": ACCOUNT} for service, key in SERVICES.items()
        },
    }
    profiles.write_text(json.dumps(document))
    log = workdir / "sandbox.log"
    command = [sys.executable, "-m", "consumer", "sandbox", "--host", "127.0.0.1", "--port", "0"]
    command += ["--rate-limit", f"{CALLS}/{PERIOD_S}s", "--latency-ms", str(latency_ms)]
    command += ["--profiles", str(profiles)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield sandbox_url(log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build(base_url: str, options: Options, recorder: Recorder) -> tuple[IoClient, Deliverer]:
    """The relay's own wiring: two services on one account, one limiter between them."""
    retry = RetrySettings()
    if options.baseline:  # a peer that never gives up on a 429
        retry = RetrySettings(max_attempts=1_000, max_elapsed_s=3_600.0)
    settings = IoSettings(
        base_url=base_url,
        retry=retry,
        accounts={
            ACCOUNT: AccountSettings(calls=CALLS, per_seconds=PERIOD_S, margin_s=options.margin_s)
        },
        services={
            service: ServiceSettings(account=ACCOUNT, key=SecretStr(key))
            for service, key in SERVICES.items()
        },
    )
    services = io_services(settings)
    if options.baseline:
        services = {name: replace(svc, limiter=NoLimiter()) for name, svc in services.items()}
    client = io_client(settings, recorder)
    profiles = ProfileCache(settings.profile_cache.ttl_s, settings.profile_cache.max_entries)
    return client, Deliverer(client, services, profiles, KeyGuard())


@dataclass
class Run:
    began: float
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # why an event was not SUBMITTED
    done_at: list[float] = field(default_factory=list)  # perf_counter of each finished event
    watchdog_fired: bool = False


async def drive(deliverer: Deliverer, options: Options) -> Run:
    """K workers take events in turn until all are done or --seconds have passed."""
    run = Run(began=time.perf_counter())
    stop_at = run.began + options.seconds if options.seconds is not None else math.inf
    next_event = itertools.count()
    names = list(SERVICES)

    async def worker() -> None:
        while (index := next(next_event)) < options.events and time.perf_counter() < stop_at:
            code = fiscal_code(index)
            delivery = await deliverer.deliver(names[index % len(names)], code, composer(code))
            run.outcomes[delivery.outcome.value] += 1
            if delivery.error is not None:
                run.errors[f"{delivery.outcome.value}: {delivery.error.detail}"] += 1
            run.done_at.append(time.perf_counter())

    try:
        async with asyncio.timeout(_watchdog_s(options)):
            await asyncio.gather(*(worker() for _ in range(options.concurrency)))
    except TimeoutError:
        run.watchdog_fired = True
    return run


def _watchdog_s(options: Options) -> float:
    """Three times the run's length at the allowed rate, plus a minute."""
    planned = options.events * 2 / ALLOWED_RATE
    if options.seconds is not None:
        planned = min(planned, options.seconds)
    return 3 * planned + 60


async def sandbox_counts(base_url: str) -> tuple[dict[str, Any], int]:
    """The sandbox's /__sandbox/stats and how many messages it accepted."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as admin:
        stats = (await admin.get("/__sandbox/stats")).json()
        messages = (await admin.get("/__sandbox/messages")).json()
    return stats, len(messages)


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rate_rows(starts: list[float]) -> list[tuple[str, str]]:
    """Call rates from the client's start times (sorted) of the calls the gateway counted.

    The steady-state figure is window reuse: the gateway lets call i + 150 in no sooner than
    5 s after call i, so 150 / mean(start[i + 150] - start[i]) is the rate a client keeps up
    once the first window's burst is spent: 30 calls/s at best. Unlike a count over a span
    it does not depend on where the run stops in the burst-and-wait cycle.
    """
    calls = len(starts)
    if calls < 2:
        return [("achieved call rate", "n/a (fewer than 2 calls)")]
    first, last = starts[0], starts[-1]
    span = last - first
    gaps = [later - earlier for earlier, later in zip(starts, starts[CALLS:], strict=False)]
    steady = CALLS / statistics.fmean(gaps) if gaps else math.nan
    late = [s for s in starts if s >= first + PERIOD_S]
    after_5s = len(late) / (last - first - PERIOD_S) if len(late) > 1 else math.nan
    share = steady / ALLOWED_RATE
    gap_range = f"{min(gaps):.3f} / {statistics.fmean(gaps):.3f} s" if gaps else "n/a"
    return [
        ("achieved call rate, first to last call", f"{calls / span:.2f} calls/s over {span:.1f} s"),
        ("steady state: 150 / mean gap i -> i+150", f"{steady:.2f} calls/s"),
        ("calls/s after the first 5 s (see note)", f"{after_5s:.2f} calls/s"),
        (
            "share of allowed rate used (steady)",
            f"{share:.1%}  target >= {TARGET_SHARE:.0%}: {_verdict(share >= TARGET_SHARE)}",
        ),
        ("gap call i -> i+150, min / mean (client)", gap_range),
    ]


def refusal_rows(recorder: Recorder, stats: dict[str, Any]) -> list[tuple[str, str]]:
    answered = sum(sum(by_status.values()) for by_status in stats["requests"].values())
    server_429 = int(stats["rate_limited"])
    client_attempts = sum(recorder.statuses.values())
    client_429 = recorder.statuses[429]
    share = server_429 / answered if answered else 0.0
    return [
        ("calls answered (sandbox) / sent (client)", f"{answered} / {client_attempts}"),
        (
            "429s, sandbox stats",
            f"{server_429} = {_pct(server_429, answered)}  "
            f"target < {TARGET_429:.0%}: {_verdict(share < TARGET_429)}",
        ),
        (
            "429s, client observer (status / held)",
            f"{client_429} / {recorder.held} = {_pct(client_429, client_attempts)}",
        ),
        ("retries (client observer)", f"{recorder.retries}"),
        ("answers other than 200/201/429", f"{_others(recorder.statuses)}"),
    ]


def _others(statuses: Counter[int | None]) -> str:
    rest = {str(k): v for k, v in statuses.items() if k not in {200, 201, 429}}
    return ", ".join(f"{k}: {v}" for k, v in sorted(rest.items())) or "none"


def event_rows(run: Run, recorder: Recorder, accepted_messages: int) -> list[tuple[str, str]]:
    attempts = sum(recorder.statuses.values())
    waits = recorder.waits_s + [0.0] * max(0, attempts - len(recorder.waits_s))
    events = sum(run.outcomes.values())
    elapsed = (max(run.done_at) - run.began) if run.done_at else math.nan
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(run.outcomes.items()))
    return [
        (
            "limiter wait p50 / p99",
            f"{_percentile(waits, 0.5) * 1000:.0f} ms / {_percentile(waits, 0.99) * 1000:.0f} ms",
        ),
        ("events done, outcomes", f"{events} ({outcomes})"),
        ("messages accepted by the sandbox", f"{accepted_messages}"),
        *(("  not submitted, why", f"{n} x {why}") for why, n in sorted(run.errors.items())),
        ("events/s (start to last event done)", f"{events / elapsed:.2f} over {elapsed:.1f} s"),
    ]


def print_table(options: Options, rows: list[tuple[str, str]]) -> None:
    head = [
        ("mode", options.mode),
        ("workers, events asked, sandbox latency", _shape(options)),
        ("allowed rate", f"{ALLOWED_RATE:.1f} calls/s ({CALLS} per {PERIOD_S} s, one account)"),
    ]
    lines = head + rows
    width = max(len(name) for name, _ in lines)
    rule = "-" * (width + 2 + max(len(value) for _, value in lines))
    print(rule)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    print(rule)
    print(
        "note: under a sliding window the first window's burst recurs in every later window,\n"
        "so calls counted from 5 s after the first one end on a burst and overstate the rate;\n"
        "the share uses the steady state, which only measures how soon each slot is reused."
    )


def _shape(options: Options) -> str:
    limit = f", stop after {options.seconds:g} s" if options.seconds is not None else ""
    return f"{options.concurrency}, {options.events}{limit}, {options.latency_ms} ms"


async def measure(base_url: str, options: Options) -> None:
    recorder = Recorder()
    client, deliverer = build(base_url, options, recorder)
    try:
        run = await drive(deliverer, options)
    finally:
        await client.aclose()
    stats, accepted = await sandbox_counts(base_url)
    rows = rate_rows(sorted(recorder.starts))
    rows += refusal_rows(recorder, stats)
    rows += event_rows(run, recorder, accepted)
    if run.watchdog_fired:
        rows.append(("WATCHDOG", f"stopped after {_watchdog_s(options):.0f} s: partial figures"))
    print_table(options, rows)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="events to deliver (default 1500 = 3000 calls)")
    parser.add_argument("--seconds", type=float, help="stop starting events after this long")
    parser.add_argument("--concurrency", type=int, default=32, help="workers (events in flight)")
    parser.add_argument("--latency-ms", type=int, default=20, help="sandbox latency per call")
    parser.add_argument(
        "--margin-s",
        type=float,
        default=AccountSettings().margin_s,
        help="the limiter's margin (io.accounts.*.margin_s); default the production one",
    )
    parser.add_argument("--baseline", action="store_true", help="no limiter: the naive peer")
    args = parser.parse_args(argv)
    events = args.events
    if events is None:  # enough events that --seconds, not the count, ends the run
        events = 1_500 if args.seconds is None else math.ceil(args.seconds * ALLOWED_RATE) + CALLS
    return Options(
        events, args.seconds, args.concurrency, args.latency_ms, args.margin_s, args.baseline
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox(Path(tmp), options.events, options.latency_ms) as base,
    ):
        print(f"sandbox at {base}, {options.mode}", flush=True)
        asyncio.run(measure(base, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
