"""The `io-relay` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from consumer.cli_dlq import dlq_app
from consumer.cli_preview import (
    PngOption,
    chromium_or_exit,
    settings_with_rules,
    write_and_list,
)
from consumer.cli_preview import register as register_preview
from consumer.cli_remote_content import remote_content_app
from consumer.cli_status import register as register_status
from consumer.cli_topics import topics_app
from consumer.config import Settings, load_settings
from consumer.content.serve import serve_content
from consumer.errors import FatalError, InvalidEvent
from consumer.events import EventTypes, decode
from consumer.events.files import read_event_file
from consumer.observability import configure_logging
from consumer.operations.doctor import examine
from consumer.preview import preview_examples
from consumer.rules import Rule, RulesError, render, route
from consumer.runtime import StopWhen, run_relay
from consumer.runtime.app import load_contracts
from consumer.sandbox import SandboxSettings, serve
from consumer.sandbox.settings import APP_OPEN_BUDGET_MS, DOCUMENT_BEARER_DEFAULT, IO_API_DIR_ENV
from consumer.schemas import stale_schemas, write_schemas

app = typer.Typer(
    help="Turns domain events from Kafka into messages on the IO app.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

rules_app = typer.Typer(help="Check rules files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(remote_content_app, name="remote-content")
app.add_typer(topics_app, name="topics")
register_status(app)
register_preview(app)
app.add_typer(dlq_app, name="dlq")

EXIT_INVALID = 1
EXIT_FATAL = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."),
]


@app.command()
def run(
    *,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."
        ),
    ] = None,
    exit_when_idle: Annotated[
        float | None,
        typer.Option(
            help="Stop after this many seconds without new events (a burst run, for demos).",
            min=0.1,
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(help="DEBUG, INFO, WARNING or ERROR; overrides observability.log_level."),
    ] = None,
) -> None:
    """Consume events, send IO messages, publish status records until stopped."""
    _until_stopped(
        "io-relay", config, log_level, lambda s: run_relay(s, StopWhen(idle_for_s=exit_when_idle))
    )


@app.command()
def content(
    *,
    config: ConfigOption = None,
    log_level: Annotated[
        str | None,
        typer.Option(help="DEBUG, INFO, WARNING or ERROR; overrides observability.log_level."),
    ] = None,
) -> None:
    """Serve IO's third-party API: Premium messages' attachments and remote content."""
    _until_stopped("io-relay content", config, log_level, serve_content)


def _until_stopped(
    name: str,
    config: Path | None,
    log_level: str | None,
    work: Callable[[Settings], Coroutine[Any, Any, None]],
) -> None:
    """A long-running command: logging as configured, then `work` until SIGTERM; a fatal
    fault is one line on stderr and exit 2, an unforeseen one a logged traceback and exit 2."""
    configure_logging(log_level or "INFO")
    try:
        settings = load_settings(config)
        configure_logging(log_level or settings.observability.log_level)
        asyncio.run(work(settings))
    except FatalError as exc:
        typer.echo(f"{name}: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None
    except typer.Exit:
        raise
    except Exception:
        # A fault nobody foresaw: one masked JSON line with its traceback, where the log
        # search looks, and not Python's bare traceback on stderr, which masks nothing.
        logging.getLogger(__name__).exception("%s stopped on an unexpected fault", name)
        raise typer.Exit(EXIT_FATAL) from None


@app.command()
def doctor(*, config: ConfigOption = None) -> None:
    """Whether this configuration can run: config, broker, topics, rules, IO keys, content.

    One check a line; exit 0 when none failed, 1 when one did."""

    async def report() -> bool:
        failed = False
        async for finding in examine(config):
            typer.echo(finding.line())
            failed |= finding.verdict == "FAIL"
        return failed

    if asyncio.run(report()):
        raise typer.Exit(EXIT_INVALID)


@app.command()
def sandbox(
    *,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    profiles: Annotated[
        Path | None,
        typer.Option(help="JSON or YAML: fiscal code → {sender_allowed, preferred_languages}."),
    ] = None,
    rate_limit: Annotated[
        str, typer.Option(help="Gateway policy per account, as N/Ss (150/5s), or 'off'.")
    ] = "150/5s",
    latency_ms: Annotated[int, typer.Option(help="Latency added to every answer.")] = 0,
    fault_rate: Annotated[float, typer.Option(help="Share of calls that get a fault, 0..1.")] = 0.0,
    faults: Annotated[
        str, typer.Option(help="Fault kinds to draw from: 500,503,slow,drop.")
    ] = "500,503,slow,drop",
    slow_ms: Annotated[int, typer.Option(help="How long a 'slow' fault waits.")] = 10_000,
    processing_delay_ms: Annotated[
        int, typer.Option(help="Time from ACCEPTED to PROCESSED/REJECTED.")
    ] = 1_000,
    seed: Annotated[int | None, typer.Option(help="Seed for fault draws.")] = None,
    document_token: Annotated[
        str, typer.Option(help="Bearer token of the document store (GET /documents/...).")
    ] = DOCUMENT_BEARER_DEFAULT,
    io_api_dir: Annotated[
        Path | None,
        typer.Option(help=f"IO's spec copies (default ${IO_API_DIR_ENV} or ../shared/io-api)."),
    ] = None,
    open_budget_ms: Annotated[
        int, typer.Option(help="How long opening a Premium message may take (the app's).")
    ] = APP_OPEN_BUDGET_MS,
) -> None:
    """Run the IO sandbox: a stand-in for IO's services API, for demos and tests."""
    spec_dir = {"io_api_dir": io_api_dir} if io_api_dir is not None else {}
    try:
        settings = SandboxSettings(
            **spec_dir,
            document_token=document_token,
            open_budget_ms=open_budget_ms,
            host=host,
            port=port,
            profiles=profiles,
            rate_limit=rate_limit,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            faults=faults,
            slow_ms=slow_ms,
            processing_delay_ms=processing_delay_ms,
            seed=seed,
        )
    except (ValidationError, ValueError) as exc:
        typer.echo(f"io-relay sandbox: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None
    try:
        serve(settings)
    except FatalError as exc:
        typer.echo(f"io-relay sandbox: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None


@rules_app.command("check")
def rules_check(
    rules: Annotated[list[Path], typer.Argument(help="Rules files or folders.")],
    config: ConfigOption = None,
    preview: Annotated[
        Path | None,
        typer.Option(help="Also write each rule's example, in each of its languages, as pages."),
    ] = None,
    png: PngOption = False,
) -> None:
    """Load rules as io-relay would; exit 1 listing every problem."""
    if png and preview is None:
        raise typer.BadParameter("--png takes pictures of the previews: give --preview DIR too")
    chromium = chromium_or_exit("io-relay rules check") if png else None
    try:
        settings = settings_with_rules(config, rules)
        types, loaded = load_contracts(settings)
        previews = (
            preview_examples(loaded, types, settings.content.document_sources) if preview else []
        )
    except RulesError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except InvalidEvent as exc:
        typer.echo(f"io-relay rules check: an example cannot be previewed: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except FatalError as exc:
        typer.echo(f"io-relay rules check: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None
    typer.echo(f"{len(loaded)} rules OK: {', '.join(rule.name for rule in loaded)}")
    if preview is not None:
        write_and_list("io-relay rules check", previews, preview, chromium)


@app.command("render")
def render_event(
    rules: Annotated[list[Path], typer.Option("--rules", help="Rules files or folders.")],
    event: Annotated[
        Path,
        typer.Option(help="A CloudEvent file: structured JSON, or binary mode as {headers, data}."),
    ],
    lang: Annotated[
        str | None, typer.Option(help="The citizen's preferred language, e.g. de_DE.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print the IO request bodies an event would produce, as a JSON array."""
    try:
        types, loaded = _contracts(config, rules)
        decoded = decode(read_event_file(event), types)
        languages = (lang,) if lang else ()
        output = [
            {
                "rule": rule.name,
                "service": rule.service,
                "payload": render(rule, decoded, languages, types.fiscal_codes).to_json_body(),
            }
            for rule in route(loaded, decoded)
        ]
    except OSError as exc:
        typer.echo(f"io-relay render: cannot read {event}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except (InvalidEvent, FatalError) as exc:
        typer.echo(f"io-relay render: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    typer.echo(json.dumps(output, indent=2, ensure_ascii=False))


@app.command()
def schemas(
    folder: Annotated[Path, typer.Argument(help="Where the schema files live.")] = Path("schemas"),
    write: Annotated[bool, typer.Option(help="Rewrite the files from the models.")] = False,
) -> None:
    """Check (or --write) the JSON Schemas of the event, envelope and status contracts."""
    if write:
        for path in write_schemas(folder):
            typer.echo(f"wrote {path}")
        return
    stale = stale_schemas(folder)
    for name in stale:
        typer.echo(
            f"{folder / name} differs from the models: run io-relay schemas --write", err=True
        )
    if stale:
        raise typer.Exit(EXIT_INVALID)
    typer.echo("schemas match the models")


def _contracts(config: Path | None, rules: list[Path]) -> tuple[EventTypes, list[Rule]]:
    """The rules given, with the rest of the configuration (allowed link hosts included)."""
    return load_contracts(settings_with_rules(config, rules))


def main() -> None:
    sys.exit(app())
