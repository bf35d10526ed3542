"""The floor of delivery: a bare asyncio loop making io-relay's two IO calls per event.

Against a sandbox of its own with the same settings, for the same citizens, at the same
concurrency and with the same bodies as io-relay's run (rendered before the clock starts),
over raw httpcore: no Kafka, no rules, no retries, no rate budget, no status records. What
io-relay reaches beside it is the delivery figure's ratio: on a 2-core machine that also
runs the broker and the sandbox, the sandbox's own pace is part of both.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import httpcore

from bench.harness import RULES, Record
from consumer.config import Settings
from consumer.events import InputRecord, decode
from consumer.rules import render, route
from consumer.runtime.app import load_contracts

SERVICE_KEY = "sandbox-key-tari"
"""The key bench.harness.relay_config gives the `tari` service, which sends TARI notices."""
LINES = 64
"""As io-relay's IO client keeps its connections (consumer.io.lines): 64, each lent to one
request at a time. One httpcore pool of 64 slows down as its waiting requests grow: 256
workers over it made 121 calls a second, over 64 lines about 2,000 (1,000 events, 20 ms)."""


def bodies(records: Sequence[Record]) -> list[tuple[bytes, bytes]]:
    """(profile body, message body) per event, as io-relay would send them."""
    types, rules = load_contracts(Settings(rules={"paths": [RULES]}))
    prepared = []
    for offset, (key, value) in enumerate(records):
        event = decode(InputRecord("bench", 0, offset, key, value), types)
        (rule,) = route(rules, event)
        message = render(rule, event, (), types.fiscal_codes)
        profile = json.dumps({"fiscal_code": message.fiscal_code}).encode()
        prepared.append((profile, json.dumps(message.to_json_body()).encode()))
    return prepared


async def _deliver_all(base_url: str, prepared: list[tuple[bytes, bytes]], concurrency: int) -> int:
    headers = [
        (b"Ocp-Apim-Subscription-Key", SERVICE_KEY.encode()),
        (b"Content-Type", b"application/json"),
    ]
    pending = iter(prepared)
    calls = 0
    lines = [httpcore.AsyncConnectionPool(max_connections=1) for _ in range(LINES)]
    idle: asyncio.Queue[httpcore.AsyncConnectionPool] = asyncio.Queue()
    for line in lines:
        idle.put_nowait(line)

    async def call(path: str, body: bytes, expected: int) -> None:
        nonlocal calls
        line = await idle.get()
        try:
            response = await line.request(
                "POST", f"{base_url}{path}", headers=headers, content=body
            )
        finally:
            idle.put_nowait(line)
        if response.status != expected:
            raise SystemExit(f"bench: the sandbox answered {response.status} to {path}")
        calls += 1

    async def worker() -> None:
        for profile, message in pending:
            await call("/api/v1/profiles", profile, 200)
            await call("/api/v1/messages", message, 201)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        for line in lines:
            await line.aclose()
    return calls


def bare_calls_per_s(base_url: str, records: Sequence[Record], concurrency: int) -> float:
    """IO calls a second of the bare loop over `records`."""
    prepared = bodies(records)
    started = time.perf_counter()
    calls = asyncio.run(_deliver_all(base_url, prepared, concurrency))
    return calls / (time.perf_counter() - started)
