"""`io-relay preview`, and `rules check --preview`: what the citizen's app will show, as
pages an operator opens in a browser, and on request as phone-sized pictures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from consumer.config import Settings, load_settings
from consumer.errors import FatalError, InvalidEvent
from consumer.events import InputRecord, decode
from consumer.preview import MessagePreview, preview_event, screenshot, write_previews
from consumer.preview.screenshot import find_chromium
from consumer.rules import RulesError
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
    rules: Annotated[list[Path], typer.Option("--rules", help="Rules files or folders.")],
    event: Annotated[Path, typer.Option(help="A CloudEvent in structured JSON mode.")],
    *,
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
    """Write one page per message an event would produce, as the IO app shows it, and an index."""
    chromium = chromium_or_exit("io-relay preview") if png else None
    try:
        settings = settings_with_rules(config, rules)
        types, loaded = load_contracts(settings)
        decoded = decode(InputRecord("file", 0, 0, None, event.read_bytes()), types)
        previews = preview_event(
            loaded, decoded, types, settings.content.document_sources, language=lang
        )
    except OSError as exc:
        _fail("io-relay preview", f"cannot read {event}: {exc.strerror}", EXIT_INVALID)
    except RulesError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except InvalidEvent as exc:
        _fail("io-relay preview", str(exc), EXIT_INVALID)
    except FatalError as exc:
        _fail("io-relay preview", str(exc), EXIT_FATAL)
    if not previews:
        typer.echo("io-relay preview: no rule sends a message for this event", err=True)
    write_and_list("io-relay preview", previews, out, chromium)


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
                line += f"  {screenshot(page, page.with_suffix('.png'), chromium)}"
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
