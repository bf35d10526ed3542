"""A processor whose every record's behaviour the test scripts, for the relay's own tests.

The submit mirrors IoClient.submit with a Sending (cleared first; marked out while the
request is out; cancelled then, SubmitInterrupted), and the handling mirrors EventProcessor:
a submit cut off is an UNKNOWN answer_abandoned record with `interrupted`; a cancel with no
request out settles nothing more, `interrupted` too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum

from consumer.events import InputRecord
from consumer.io import Sending, SubmitInterrupted
from consumer.report import ErrorInfo, Outcome, StatusRecord
from consumer.runtime.process import EventProcessor, Prior, Processed
from tests.unit.runtime.fakes import RULE, status_of


class Mode(Enum):
    """SETTLE: SKIPPED at once. WAIT_BEFORE_SUBMIT: waits for `release` with no request out
    (a profile check, a backoff), then submits. SUBMIT_OUT: its submit's request is out until
    `release`. RAISE: a bug, RuntimeError."""

    SETTLE = "settle"
    WAIT_BEFORE_SUBMIT = "wait_before_submit"
    SUBMIT_OUT = "submit_out"
    RAISE = "raise"


@dataclass(slots=True)
class Script:
    mode: Mode
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)  # it waits (SUBMIT_OUT: out)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    rules: int = 1
    """Rules the event matches: one submit each, the first as `mode` says, the rest at once."""
    submits: int = 0
    """Submits whose request went out."""


class ScriptedProcessor(EventProcessor):
    """EventProcessor's contract with each record's behaviour scripted by the test."""

    def __init__(self) -> None:  # no rules, no IO: only the relay's handling is under test
        self.scripts: dict[tuple[int, int], Script] = {}
        self.calls: list[tuple[int, int]] = []
        self.priors: dict[tuple[int, int], Prior] = {}

    def script(self, partition: int, offset: int, mode: Mode, rules: int = 1) -> Script:
        script = Script(mode, rules=rules)
        self.scripts[(partition, offset)] = script
        return script

    async def process(
        self, record: InputRecord, prior: Prior | None = None, sending: Sending | None = None
    ) -> Processed:
        at = (record.partition, record.offset)
        self.calls.append(at)
        self.priors[at] = dict(prior or {})
        script = self.scripts.get(at, Script(Mode.SETTLE))
        if script.mode is Mode.SETTLE:
            return Processed([status_of(*at, Outcome.SKIPPED)], event_type="t")
        if script.mode is Mode.RAISE:
            script.entered.set()
            raise RuntimeError(f"a bug at {at}")
        settled: list[StatusRecord] = []
        try:
            if script.mode is Mode.WAIT_BEFORE_SUBMIT:
                script.entered.set()
                await script.release.wait()
            for rule in range(script.rules):
                await self._submit(script, sending, first=rule == 0)
                settled.append(status_of(*at, Outcome.SUBMITTED, rule=_rule(rule)))
        except SubmitInterrupted as cut:
            script.cancelled.set()
            abandoned = ErrorInfo(type="answer_abandoned", detail=cut.detail)
            unknown = status_of(*at, Outcome.UNKNOWN, abandoned, rule=_rule(len(settled)))
            return Processed([*settled, unknown], event_type="t", interrupted=True)
        except asyncio.CancelledError:  # nothing more of it reached IO
            script.cancelled.set()
            return Processed(settled, event_type="t", interrupted=True)
        return Processed(settled, event_type="t")

    async def _submit(self, script: Script, sending: Sending | None, *, first: bool) -> None:
        if sending is not None:
            await sending.cleared()
            sending.started()
        script.submits += 1
        try:
            if first and script.mode is Mode.SUBMIT_OUT:
                script.entered.set()
                await script.release.wait()
        except asyncio.CancelledError:
            if sending is None:
                raise
            raise SubmitInterrupted("io-relay stopped waiting for IO's answer", 1) from None
        finally:
            if sending is not None:
                sending.answered()


def _rule(index: int) -> str:
    return RULE if index == 0 else f"{RULE}{index + 1}"
