"""`io-relay doctor`: whether this configuration can run, one check a line.

    config    it loads and validates
    broker    the brokers answer, over the configured security (SASL, TLS)
    topics    as `io-relay topics check` wants them
    rules     they load with the configuration's event types and checks
    io        each service's key is accepted: one profile call on io.test_fiscal_code
    content   `io-relay content` answers at content.public_url with the first API key

A check that cannot be made because an earlier one failed says so (`skip`), rather than
fail for the same reason twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from consumer.config import RetrySettings, Settings, load_settings
from consumer.content.app import NO_MESSAGE
from consumer.errors import FatalError
from consumer.io import GaveUp, Refused
from consumer.operations.topics import Topics, problems_with, wanted_topics
from consumer.redact import mask
from consumer.runtime.app import io_client, io_services, load_contracts

Verdict = Literal["ok", "FAIL", "skip"]
_PROBE_ID = "v1.doctor.probe"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    verdict: Verdict
    detail: str

    def line(self) -> str:
        """One line, whatever the detail: a multi-line error's lines joined with '; '."""
        detail = "; ".join(part.strip() for part in self.detail.splitlines() if part.strip())
        return f"{self.verdict:<4}  {self.check:<8} {mask(detail)}"


async def examine(config: Path | None) -> AsyncIterator[Finding]:
    """Each finding as soon as it is made: a check that hangs leaves the others printed."""
    try:
        settings = load_settings(config)
    except FatalError as exc:
        yield Finding("config", "FAIL", str(exc))
        return
    yield Finding("config", "ok", str(config) if config else "defaults and environment")
    checks: list[tuple[str, Callable[[Settings], Awaitable[list[Finding]]]]] = [
        ("broker", _kafka),
        ("rules", _rules),
        ("io", _io),
        ("content", _content),
    ]
    for name, check in checks:
        try:
            findings = await check(settings)
        except Exception as exc:  # one check's fault is that check's failure, not a crash
            findings = [Finding(name, "FAIL", f"{type(exc).__name__}: {exc}")]
        for finding in findings:
            yield finding


async def _kafka(settings: Settings) -> list[Finding]:
    wanted = wanted_topics(settings)
    try:
        held = await asyncio.to_thread(Topics(settings).held, [topic.name for topic in wanted])
    except FatalError as exc:
        return [Finding("broker", "FAIL", str(exc)), Finding("topics", "skip", "no broker")]
    broker = Finding("broker", "ok", settings.kafka.bootstrap_servers)
    problems = problems_with(wanted, held)
    if problems:
        return [broker, *(Finding("topics", "FAIL", problem) for problem in problems)]
    return [broker, Finding("topics", "ok", f"{len(wanted)} topics as needed")]


async def _rules(settings: Settings) -> list[Finding]:
    try:
        _, rules = load_contracts(settings)
    except FatalError as exc:
        return [Finding("rules", "FAIL", str(exc))]
    unknown = sorted({rule.service for rule in rules} - settings.io.services.keys())
    if unknown:
        return [Finding("rules", "FAIL", f"services not under io.services: {', '.join(unknown)}")]
    return [Finding("rules", "ok", f"{len(rules)} rules")]


async def _io(settings: Settings) -> list[Finding]:
    code = settings.io.test_fiscal_code
    if code is None:
        return [Finding("io", "skip", "set io.test_fiscal_code to check each service's key")]
    # One try or two, not the relay's patience: an operator is waiting for the answer.
    io = settings.io.model_copy(
        update={"retry": RetrySettings(max_attempts=2, max_elapsed_s=10.0, max_backoff_s=2.0)}
    )
    try:
        services = io_services(io)
    except FatalError as exc:
        return [Finding("io", "FAIL", str(exc))]
    client = io_client(io)
    findings = []
    try:
        for name, service in services.items():
            outcome = await client.get_profile(service, code)
            if isinstance(outcome, Refused):
                # The status only: IO's wording may quote what it was sent.
                what = "the key" if outcome.is_authentication else "the call"
                detail = f"IO refused {what} ({outcome.http_status})"
                findings.append(Finding("io", "FAIL", f"{name}: {detail}"))
            elif isinstance(outcome, GaveUp):
                findings.append(Finding("io", "FAIL", f"{name}: no answer from IO"))
            else:
                findings.append(Finding("io", "ok", f"{name}: key accepted"))
    finally:
        await client.aclose()
    return findings or [Finding("io", "skip", "no services under io.services")]


async def _content(settings: Settings) -> list[Finding]:
    content = settings.content
    if not content.enabled:
        return [Finding("content", "skip", "no content.sealing_keys (Premium content off)")]
    missing = [name for name in ("public_url", "api_keys") if not getattr(content, name)]
    if missing or content.public_url is None:
        return [Finding("content", "FAIL", f"content.{missing[0]} is not set")]
    key = content.api_keys[0].secret().get_secret_value()
    try:
        ours = await _probe(settings, content.public_url, key)
        wrong = await _probe(settings, content.public_url, key + "-not")
    except httpx.HTTPError as exc:
        return [Finding("content", "FAIL", f"{content.public_url}: {type(exc).__name__}")]
    # io-relay content's own answers: its 404 for an id that is no one's once the key
    # passed, and 401 for a wrong key. Another server behind the URL answers otherwise.
    if ours == (404, NO_MESSAGE) and wrong[0] == 401:
        return [Finding("content", "ok", f"{content.public_url} answers as io-relay content")]
    if ours[0] == 401:
        return [Finding("content", "FAIL", "it refused content.api_keys' first key (401)")]
    return [
        Finding(
            "content",
            "FAIL",
            f"{content.public_url} does not answer as io-relay content "
            f"({ours[0]} for the probe, {wrong[0]} for a wrong key)",
        )
    ]


async def _probe(settings: Settings, public_url: str, key: str) -> tuple[int, str | None]:
    """What the server answers IO's call for an id that is no one's: status and detail."""
    code = settings.io.test_fiscal_code or "AAAAAA00A00A000A"
    headers = {settings.content.header_key_name: key, "fiscal_code": code}
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
        answer = await client.get(f"{public_url}messages/{_PROBE_ID}", headers=headers)
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return answer.status_code, detail if isinstance(detail, str) else None
