"""`io-relay status` and `io-relay history`: what happened to an event, and the history
that answers it at scale.

`status EVENT_ID` (or `--notice N`) prints every status record of the event (of each event
carrying the notice), delivery then lifecycle, one line each, or `--json` lines. It reads the
history database when `history.dsn` is set, and otherwise scans the last `--since` of the
status topic. `history` runs the sink that fills the database, until SIGTERM.

Exit codes: 0 records found (or the sink stopped as asked); 1 none found; 2 cannot run (an
invalid configuration, a broker or database out of reach, a refused login).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from consumer.config import Settings, load_settings
from consumer.errors import FatalError, TransientError
from consumer.history.scan import scan
from consumer.history.sink import run_history
from consumer.history.store import HistoryStore
from consumer.observability import configure_logging
from consumer.operations.progress import progress
from consumer.operations.topic_reader import Stretch
from consumer.operations.when import parse_when
from consumer.pagopa import notice_number
from consumer.redact import mask
from consumer.report import StatusRecord

EXIT_NONE_FOUND = 1
EXIT_FATAL = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."),
]


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("history")(history)


def status(
    event_id: Annotated[str | None, typer.Argument(help="The event's id (its record key).")] = None,
    *,
    notice: Annotated[
        str | None, typer.Option("--notice", help="A pagoPA notice number instead of an event.")
    ] = None,
    since: Annotated[
        str,
        typer.Option(
            help="Without history.dsn: how far back to scan (90m, 24h, 7d, or an ISO 8601 time)."
        ),
    ] = "24h",
    json_lines: Annotated[
        bool, typer.Option("--json", help="Each record as its JSON, one a line.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Every status record of an event, or of the events of a notice: delivery, then lifecycle."""
    if (event_id is None) == (notice is None):
        _cannot_run("give an EVENT_ID or --notice, one of the two")
    try:
        span = _since(since)
        notice = _notice(notice) if notice is not None else None
        settings = load_settings(config)
        records = _found(settings, event_id, notice, span)
    except (FatalError, TransientError) as exc:
        _cannot_run(str(exc))
    if not records:
        what = f"event {event_id}" if event_id is not None else f"notice {notice}"
        stretch = f"in the last {since}" if since.strip()[-1:].isalpha() else f"since {since}"
        where = "in the history" if settings.history.enabled else stretch
        typer.echo(mask(f"no status records of {what} {where}"), err=True)
        raise typer.Exit(EXIT_NONE_FOUND)
    shown: str | None = None
    for record in records:
        if json_lines:
            typer.echo(record.model_dump_json())
            continue
        if record.event_id != shown:
            shown = record.event_id
            typer.echo(mask(f"event {record.event_id}"))
        typer.echo(line(record))


def history(
    *,
    config: ConfigOption = None,
    exit_when_idle: Annotated[
        float | None,
        typer.Option(
            help="Stop after this many seconds without new records (tests, demos).", min=0.1
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(help="DEBUG, INFO, WARNING or ERROR; overrides observability.log_level."),
    ] = None,
) -> None:
    """Keep the status topic in PostgreSQL (history.dsn), until SIGTERM."""
    configure_logging(log_level or "INFO")
    try:
        settings = load_settings(config)
        configure_logging(log_level or settings.observability.log_level)
        if not settings.history.enabled:
            raise FatalError("history.dsn is not set (IO_RELAY_HISTORY__DSN): nowhere to write")
        run_history(settings, exit_when_idle)
    except (FatalError, TransientError) as exc:
        _cannot_run(str(exc), "io-relay history")


def line(record: StatusRecord) -> str:
    """time, stage, outcome, rule, service, IO message id, error type ('-' for none)."""
    fields = (
        record.at.isoformat(timespec="milliseconds"),
        f"{record.stage.value:<10}",
        f"{record.outcome.value:<16}",
        record.rule or "-",
        record.service or "-",
        record.io_message_id or "-",
        record.error.type if record.error is not None else "-",
    )
    return mask("  ".join(fields))


def _found(
    settings: Settings, event_id: str | None, notice: str | None, since: datetime
) -> list[StatusRecord]:
    if settings.history.enabled:
        store = HistoryStore(settings.history)
        try:
            events = [event_id] if event_id is not None else []
            events += store.events_of_notice(notice) if notice is not None else []
            return [record for event in events for record in store.records_of(mask(event))]
        finally:
            store.close()
    with Stretch(settings.kafka, settings.kafka.status_topic, since) as stretch:
        passes = 2 if notice is not None else 1
        with progress("reading the status topic", stretch.total * passes) as advance:
            return scan(stretch, event_id=event_id, notice_number=notice, advance=advance)


def _since(text: str) -> datetime:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise FatalError(f"--since: {exc}") from None


def _notice(text: str) -> str:
    """As records carry it: 18 bare digits, however it was printed on the notice."""
    try:
        return notice_number(text)
    except ValueError as exc:
        raise FatalError(f"--notice: {exc}") from None


def _cannot_run(reason: str, name: str = "io-relay status") -> None:
    typer.echo(f"{name}: {mask(reason)}", err=True)
    raise typer.Exit(EXIT_FATAL)
