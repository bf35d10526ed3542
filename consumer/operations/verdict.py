"""What the current rules would do with a dead letter if it were replayed now.

The same decode, route and render the relay runs, without the citizen's profile (the
verdict cannot know whether IO will find them, nor their language) and without IO: enough
to see whether a rules fix or an upstream fix worked before anything is sent. Rules the
event had already been sent by (the letter's `io-relay.sent`) are left out, as the relay
leaves them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumer.errors import InvalidEvent
from consumer.events import EventTypes, decode
from consumer.operations.dead_letters import DeadLetter
from consumer.rules import Rule, render, route


@dataclass(frozen=True, slots=True)
class Verdict:
    would: str
    """`render` (IO would be asked), `skip` (no rule sends it), `refuse` (the DLQ again)."""
    detail: str
    """The rules and services for `render`, the masked reason for `refuse`."""

    def line(self, letter: DeadLetter) -> str:
        return f"{letter.position}  would {self.would}: {self.detail}"


def verdict(letter: DeadLetter, types: EventTypes, rules: Sequence[Rule]) -> Verdict:
    try:
        event = decode(letter.as_input(), types)
        chosen = [rule for rule in route(rules, event) if rule.name not in letter.sent]
        for rule in chosen:
            render(rule, event, (), types.fiscal_codes)
    except InvalidEvent as error:
        # The relay's own words, already masked: the reason it would dead-letter it with.
        return Verdict("refuse", f"{error.stage}: {error}")
    sent = f" ({', '.join(sorted(letter.sent))} sent before, not again)" if letter.sent else ""
    if not chosen:
        return Verdict("skip", "no rule sends this event" + sent)
    rendered = ", ".join(f"{rule.name} → {rule.service}" for rule in chosen)
    return Verdict("render", rendered + sent)
