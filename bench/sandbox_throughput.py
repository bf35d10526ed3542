"""How many calls a second the IO sandbox answers on one core.

Starts the sandbox as a subprocess pinned to core 0 (rate limit off, no latency), drives it
from core 1 with an aiohttp client over many keep-alive connections, and prints requests/s,
errors and p50/p99 latency for two mixes: half profile checks and half submits, then profile
checks only. Talks to 127.0.0.1 only and stops by itself.

    .venv/bin/python -m bench.sandbox_throughput [--duration 10] [--warmup 2] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.harness import sandbox_url

KEY = {"Ocp-Apim-Subscription-Key": "bench"}
CITIZENS = ["AAAAAA00A00A000A", "BBBBBB00B00B000B", "CCCCCC00C00C000C"]
UNKNOWN = "DDDDDD00D00D000D"
SANDBOX_CORE, CLIENT_CORE = 0, 1


@dataclass
class Measurement:
    """Calls begun within [start, stop) (perf_counter seconds) are measured."""

    start: float
    stop: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0


@contextmanager
def sandbox(workdir: Path) -> Iterator[tuple[str, int]]:
    """A sandbox subprocess on core 0; yields its base URL and pid, and stops it on exit."""
    profiles = workdir / "profiles.json"
    profiles.write_text(json.dumps({fc: {"sender_allowed": True} for fc in CITIZENS}))
    log = workdir / "sandbox.log"
    command = [sys.executable, "-m", "consumer.sandbox", "--host", "127.0.0.1", "--port", "0"]
    command += ["--rate-limit", "off", "--latency-ms", "0", "--profiles", str(profiles)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", str(SANDBOX_CORE), *command]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield sandbox_url(log, process), process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _message(fiscal_code: str) -> bytes:
    body = {
        "fiscal_code": fiscal_code,
        "time_to_live": 3600,
        "content": {
            "subject": "Avviso di pagamento TARI 2026",
            "markdown": "Gentile contribuente, " + "trova qui il dettaglio dell'avviso. " * 6,
            "payment_data": {"amount": 12_345, "notice_number": "302000100000009421"},
            "due_date": "2026-03-31T21:59:59.000Z",
        },
    }
    return json.dumps(body).encode()


async def _one_call(
    session: aiohttp.ClientSession, base: str, mix: str, rng: random.Random
) -> bool:
    """One call of the mix; True when it got the answer it should."""
    citizen = rng.choice(CITIZENS)
    if mix == "mixed" and rng.random() < 0.5:
        headers = {**KEY, "Content-Type": "application/json"}
        async with session.post(
            f"{base}/api/v1/messages", data=_message(citizen), headers=headers
        ) as r:
            await r.read()
            return r.status == 201
    if rng.random() < 0.1:
        async with session.get(f"{base}/api/v1/profiles/{UNKNOWN}", headers=KEY) as r:
            await r.read()
            return r.status == 404
    async with session.post(
        f"{base}/api/v1/profiles", json={"fiscal_code": citizen}, headers=KEY
    ) as r:
        await r.read()
        return r.status == 200


async def _worker(
    session: aiohttp.ClientSession, base: str, mix: str, measurement: Measurement
) -> None:
    rng = random.Random()
    while (began := time.perf_counter()) < measurement.stop:
        try:
            ok = await _one_call(session, base, mix, rng)
        except aiohttp.ClientError:
            ok = False
        if began >= measurement.start:
            measurement.latencies_s.append(time.perf_counter() - began)
            measurement.errors += 0 if ok else 1


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _server_cpu_s(pid: int, measurement: Measurement) -> float:
    """CPU seconds the sandbox used within the measured window."""
    await asyncio.sleep(measurement.start - time.perf_counter())
    before = _cpu_seconds(pid)
    await asyncio.sleep(measurement.stop - time.perf_counter())
    return _cpu_seconds(pid) - before


async def run_mix(
    server_pid: int, base: str, mix: str, *, duration_s: float, warmup_s: float, concurrency: int
) -> None:
    start = time.perf_counter() + warmup_s
    measurement = Measurement(start, start + duration_s)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        cpu = asyncio.create_task(_server_cpu_s(server_pid, measurement))
        await asyncio.gather(
            *(_worker(session, base, mix, measurement) for _ in range(concurrency))
        )
        server_cpu_s = await cpu
    latencies = sorted(measurement.latencies_s)
    calls = len(latencies)
    cpu_per_call_us = server_cpu_s / calls * 1e6
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(calls * 0.99) - 1] * 1000
    print(
        f"{mix}: {calls / duration_s:.0f} requests/s, errors={measurement.errors}, "
        f"p50={p50:.1f} ms, p99={p99:.1f} ms (n={calls}, concurrency={concurrency})\n"
        f"    sandbox core busy {server_cpu_s / duration_s:.0%}, {cpu_per_call_us:.0f} µs CPU "
        f"per call, so about {1e6 / cpu_per_call_us:.0f} calls/s with the core saturated"
    )


def _pin_client() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > CLIENT_CORE:
        os.sched_setaffinity(0, {CLIENT_CORE})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per mix")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight")
    args = parser.parse_args()
    _pin_client()
    with tempfile.TemporaryDirectory() as tmp, sandbox(Path(tmp)) as (base, pid):
        print(f"sandbox at {base}, pinned to core {SANDBOX_CORE}; client on core {CLIENT_CORE}")
        for mix in ("mixed", "profiles-only"):
            asyncio.run(
                run_mix(
                    pid,
                    base,
                    mix,
                    duration_s=args.duration,
                    warmup_s=args.warmup,
                    concurrency=args.concurrency,
                )
            )


if __name__ == "__main__":
    main()
