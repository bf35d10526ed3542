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

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from consumer.config import RetrySettings, Settings, load_settings
from consumer.errors import FatalError, IoRelayError
from consumer.io import GaveUp, Refused
from consumer.operations.topics import Topics, problems_with, wanted_topics
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
        return f"{self.verdict:<4}  {self.check:<8} {detail}"


async def examine(config: Path | None) -> list[Finding]:
    try:
        settings = load_settings(config)
    except FatalError as exc:
        return [Finding("config", "FAIL", str(exc))]
    findings = [Finding("config", "ok", str(config) if config else "defaults and environment")]
    findings += _kafka(settings)
    findings.append(_rules(settings))
    findings += await _io(settings)
    findings.append(await _content(settings))
    return findings


def _kafka(settings: Settings) -> list[Finding]:
    wanted = wanted_topics(settings)
    try:
        held = Topics(settings).held(topic.name for topic in wanted)
    except FatalError as exc:
        return [Finding("broker", "FAIL", str(exc)), Finding("topics", "skip", "no broker")]
    broker = Finding("broker", "ok", settings.kafka.bootstrap_servers)
    problems = problems_with(wanted, held)
    if problems:
        return [broker, *(Finding("topics", "FAIL", problem) for problem in problems)]
    return [broker, Finding("topics", "ok", f"{len(wanted)} topics as needed")]


def _rules(settings: Settings) -> Finding:
    try:
        _, rules = load_contracts(settings)
    except FatalError as exc:
        return Finding("rules", "FAIL", str(exc))
    unknown = sorted({rule.service for rule in rules} - settings.io.services.keys())
    if unknown:
        return Finding("rules", "FAIL", f"services not under io.services: {', '.join(unknown)}")
    return Finding("rules", "ok", f"{len(rules)} rules")


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
                detail = f"IO refused the key ({outcome.http_status}): {outcome.detail}"
                findings.append(Finding("io", "FAIL", f"{name}: {detail}"))
            elif isinstance(outcome, GaveUp):
                findings.append(Finding("io", "FAIL", f"{name}: no answer: {outcome.detail}"))
            else:
                findings.append(Finding("io", "ok", f"{name}: key accepted"))
    finally:
        await client.aclose()
    return findings or [Finding("io", "skip", "no services under io.services")]


async def _content(settings: Settings) -> Finding:
    content = settings.content
    if not content.enabled or content.public_url is None:
        return Finding("content", "skip", "no content section (Premium content off)")
    if not content.api_keys:
        return Finding("content", "FAIL", "content.api_keys is empty")
    try:
        status = await _probe(settings, content.public_url)
    except IoRelayError as exc:
        return Finding("content", "FAIL", str(exc))
    except httpx.HTTPError as exc:
        return Finding("content", "FAIL", f"{content.public_url}: {type(exc).__name__}")
    verdicts: dict[int, tuple[Verdict, str]] = {
        # An id that is no one's: the key was accepted.
        404: ("ok", f"{content.public_url} answers"),
        401: ("FAIL", "it refused content.api_keys' first key (401)"),
    }
    verdict, detail = verdicts.get(status, ("FAIL", f"{content.public_url}: answered {status}"))
    return Finding("content", verdict, detail)


async def _probe(settings: Settings, public_url: str) -> int:
    """What the content server answers IO's call for an id that is no one's."""
    content = settings.content
    key = content.api_keys[0].secret().get_secret_value()
    code = settings.io.test_fiscal_code or "AAAAAA00A00A000A"
    headers = {content.header_key_name: key, "fiscal_code": code}
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
        answer = await client.get(f"{public_url}messages/{_PROBE_ID}", headers=headers)
    return answer.status_code
