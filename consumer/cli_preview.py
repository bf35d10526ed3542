"""`io-relay preview`, and `rules check --preview`: what the citizen's app will show, as
pages an operator opens in a browser, and on request as phone-sized pictures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from consumer.config import Settings, load_settings
from consumer.errors import FatalError, InvalidEvent
from consumer.events import EventTypes, decode
from consumer.events.files import read_event_file
from consumer.preview import MessagePreview, preview_event, take_screenshot, write_previews
from consumer.preview.screenshot import find_chromium
from consumer.redact import mask
from consumer.rules import Rule, RulesError
from consumer.runtime.app import load_contracts

EXIT_INVALID = 1
EXIT_FATAL = 2

PngOption = Annotated[
    bool,
    typer.Option("--png", help="Also a phone-sized PNG of each page (needs Debian's chromium)."),
]


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)


def preview(
    event: Annotated[
        list[Path],
        typer.Option(
            help="A CloudEvent file: structured JSON, or binary mode as {headers, data}. "
            "Repeatable."
        ),
    ],
    *,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Rules files or folders; default: the configuration's."),
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="The language of the citizen's app, e.g. de_DE.")
    ] = None,
    out: Annotated[Path, typer.Option(help="The folder the pages go to.")] = Path("preview"),
    png: PngOption = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."
        ),
    ] = None,
) -> None:
    """Write a page per message the events would produce, as the IO app shows it, and an
    index; exit 1 when an event cannot be read or rendered (the others are still written)."""
    command = "io-relay preview"
    chromium = chromium_or_exit(command) if png else None
    try:
        settings = load_settings(config) if rules is None else settings_with_rules(config, rules)
        types, loaded = load_contracts(settings)
    except RulesError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except FatalError as exc:
        _fail(command, str(exc), EXIT_FATAL)
    previews, failed = _previews_of(event, settings, types, loaded, lang)
    if previews or not failed:
        write_and_list(command, previews, out, chromium)
    if failed:
        raise typer.Exit(EXIT_INVALID)


def _previews_of(
    events: Sequence[Path],
    settings: Settings,
    types: EventTypes,
    rules: list[Rule],
    language: str | None,
) -> tuple[list[MessagePreview], bool]:
    """Each event's previews; a line on stderr for each event that has none, and whether one
    of them could not be read or rendered."""
    command = "io-relay preview"
    previews: list[MessagePreview] = []
    failed = False
    for path in events:
        try:
            decoded = decode(read_event_file(path), types)
            made = preview_event(
                rules, decoded, types, settings.content.document_sources, language=language
            )
        except OSError as exc:
            typer.echo(f"{command}: cannot read {mask(str(path))}: {exc.strerror}", err=True)
            failed = True
        except InvalidEvent as exc:
            typer.echo(f"{command}: {mask(str(path))}: {exc}", err=True)
            failed = True
        else:
            if not made:
                typer.echo(
                    f"{command}: {mask(str(path))}: no rule sends a message for this event",
                    err=True,
                )
            previews += made
    return previews, failed


def settings_with_rules(config: Path | None, rules: Sequence[Path]) -> Settings:
    """The configuration, with the rules given in place of its own."""
    settings = load_settings(config)
    paths = settings.rules.model_copy(update={"paths": list(rules)})
    return settings.model_copy(update={"rules": paths})


def write_and_list(
    command: str, previews: Sequence[MessagePreview], out: Path, chromium: str | None
) -> None:
    """The pages (and pictures, with `chromium`), a line each, then the index's path."""
    try:
        pages = write_previews(previews, out)
    except OSError as exc:
        _fail(command, f"cannot write to {out}: {exc.strerror}", EXIT_FATAL)
    for page in pages:
        line = str(page)
        if chromium is not None:
            try:
                line += f"  {take_screenshot(page, page.with_suffix('.png'), chromium)}"
            except FatalError as exc:
                _fail(command, str(exc), EXIT_FATAL)
        typer.echo(line)
    typer.echo(f"index: {out / 'index.html'}")


def chromium_or_exit(command: str) -> str:
    """Asked before any work, so that a missing browser costs nothing but its message."""
    try:
        return find_chromium()
    except FatalError as exc:
        _fail(command, str(exc), EXIT_FATAL)


def _fail(command: str, message: str, code: int) -> NoReturn:
    typer.echo(f"{command}: {message}", err=True)
    raise typer.Exit(code) from None
