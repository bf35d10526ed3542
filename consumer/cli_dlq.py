"""`io-relay dlq list|show|replay`: the dead letters, looked at, and sent back after a fix.

Exit codes: 0 nothing to report (`list`: no dead letter matched; `replay --dry-run`: the
current rules would send or skip every one); 1 something found (dead letters matched, one
not found, or one the current rules would refuse again); 2 cannot run (an invalid
configuration, brokers unreachable, a topic missing, a replay fenced or refused).
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from consumer.config import Settings, load_settings
from consumer.errors import FatalError, TransientError
from consumer.operations.dead_letters import DeadLetter, Selection, dead_letters
from consumer.operations.progress import progress
from consumer.operations.replay import Replayer, replayed_origins
from consumer.operations.topic_reader import read_record, read_topic
from consumer.operations.verdict import verdict
from consumer.operations.when import parse_when
from consumer.runtime.app import load_contracts

EXIT_FOUND = 1
EXIT_FATAL = 2

dlq_app = typer.Typer(help="List, show and replay dead letters.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."),
]


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_when(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


Since = Annotated[
    datetime | None,
    typer.Option(parser=_when, help="Dead-lettered at or after: 2h (ago) or 2026-12-01T08:00."),
]
Until = Annotated[
    datetime | None,
    typer.Option(parser=_when, help="Dead-lettered at or before, in the same forms."),
]
Reason = Annotated[str | None, typer.Option(help="A piece of the reason, in any case.")]
Stage = Annotated[str | None, typer.Option(help="decode, invalid or render.")]
EventType = Annotated[str | None, typer.Option(help="The CloudEvent type.")]
InputTopic = Annotated[str | None, typer.Option(help="The topic it was read from.")]


@dlq_app.command("list")
def list_letters(
    *,
    config: ConfigOption = None,
    reason: Reason = None,
    stage: Stage = None,
    event_type: EventType = None,
    input_topic: InputTopic = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=0, help="Dead letters printed; all are counted.")] = 50,
) -> None:
    """One line per dead letter, then how many there are for each reason."""
    selection = Selection(reason, stage, event_type, input_topic, since, until)
    reasons: Counter[str] = Counter()

    def act(settings: Settings) -> None:
        for letter in _letters(settings, selection):
            if reasons.total() < limit:
                typer.echo(
                    f"{letter.position}  {_at(letter)}  {letter.stage:<7} "
                    f"{letter.event_type or '-'}  {letter.input_topic or '-'}  {letter.reason}"
                )
            reasons[f"{letter.stage}: {letter.reason}"] += 1

    _run("list", config, act)
    total = reasons.total()
    typer.echo(
        f"{total} dead letters" + (f", {total - limit} not printed" if total > limit else "")
    )
    for why, count in reasons.most_common():
        typer.echo(f"{count:>8}  {why}")
    if total:
        raise typer.Exit(EXIT_FOUND)


@dlq_app.command("show")
def show(
    position: Annotated[str, typer.Argument(help="PARTITION/OFFSET, as `list` prints it.")],
    *,
    config: ConfigOption = None,
) -> None:
    """One dead letter, with its headers and value, fiscal codes masked, as JSON."""
    found: list[DeadLetter] = []

    def act(settings: Settings) -> None:
        dlq = settings.kafka.dlq_topic
        partition, _, offset = position.removeprefix(dlq + "/").partition("/")
        if not (partition.isdigit() and offset.isdigit()):
            typer.echo(f"io-relay dlq show: {position!r} is not PARTITION/OFFSET", err=True)
            raise typer.Exit(EXIT_FATAL)
        record = read_record(settings.kafka, dlq, int(partition), int(offset))
        if record is not None:
            found.append(DeadLetter(dlq, record))

    _run("show", config, act)
    if not found:
        typer.echo(f"no dead letter at {position}", err=True)
        raise typer.Exit(EXIT_FOUND)
    typer.echo(json.dumps(found[0].shown(), indent=2, ensure_ascii=False))


@dlq_app.command("replay")
def replay(
    *,
    config: ConfigOption = None,
    reason: Reason = None,
    stage: Stage = None,
    event_type: EventType = None,
    input_topic: InputTopic = None,
    since: Since = None,
    until: Until = None,
    dry_run: Annotated[
        bool, typer.Option(help="Say what would be replayed and what the rules would do.")
    ] = False,
) -> None:
    """Send the selected dead letters back to their input topic, each one once.

    Run it after a rules or upstream fix. Replayed records carry the io-relay.replay-of
    header; the replay topic remembers them, so running it again replays only the rest."""
    selection = Selection(reason, stage, event_type, input_topic, since, until)
    refused = False

    def act(settings: Settings) -> None:
        nonlocal refused
        if dry_run:
            refused = _dry_run(settings, selection)
            return
        with (
            _stopped_by_sigterm(),
            Replayer(settings.kafka) as replayer,
            progress("replaying dead letters", None) as advance,
        ):
            count = replayer.replay(_letters(settings, selection), advance)
        typer.echo(f"replayed {count.replayed}, already replayed {count.already}")
        for topic, skipped in sorted(count.elsewhere.items()):
            typer.echo(f"skipped {skipped}: read from {topic}, not an input topic")

    _run("replay", config, act)
    if refused:
        raise typer.Exit(EXIT_FOUND)


def _dry_run(settings: Settings, selection: Selection) -> bool:
    """Print each selected letter's verdict and a count of each; True if any is refused."""
    types, rules = load_contracts(settings)
    done = replayed_origins(settings.kafka)
    inputs = set(settings.kafka.input_topics)
    verdicts: Counter[str] = Counter()
    for letter in _letters(settings, selection):
        if letter.origin is None or letter.input_topic not in inputs:
            typer.echo(f"{letter.position}  not replayed: read from {letter.input_topic}")
            verdicts["not an input topic"] += 1
        elif letter.origin in done:
            typer.echo(f"{letter.position}  already replayed ({letter.origin})")
            verdicts["already replayed"] += 1
        else:
            done.add(letter.origin)  # a second copy of it would not be replayed
            found = verdict(letter, types, rules)
            typer.echo(found.line(letter))
            verdicts[f"would {found.would}"] += 1
    typer.echo(", ".join(f"{n} {what}" for what, n in verdicts.most_common()) or "nothing")
    return verdicts["would refuse"] > 0


def _letters(settings: Settings, selection: Selection) -> Iterator[DeadLetter]:
    dlq = settings.kafka.dlq_topic
    return dead_letters(dlq, read_topic(settings.kafka, dlq, selection.since), selection)


def _at(letter: DeadLetter) -> str:
    at = letter.at
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else "-"


@contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM as Ctrl-C: the transaction under way is aborted, not left to time out."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(command: str, config: Path | None, act: Callable[[Settings], None]) -> None:
    try:
        act(load_settings(config))
    except (FatalError, TransientError) as exc:
        typer.echo(f"io-relay dlq {command}: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None
    except KeyboardInterrupt:
        typer.echo(
            f"io-relay dlq {command}: interrupted; what was replayed stays replayed, "
            "run it again for the rest",
            err=True,
        )
        raise typer.Exit(EXIT_FATAL) from None
