"""The `io-relay` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from consumer.config import load_settings
from consumer.errors import FatalError
from consumer.observability import configure_logging
from consumer.runtime import StopWhen, run_relay
from consumer.sandbox import SandboxSettings, serve

app = typer.Typer(
    help="Turns domain events from Kafka into messages on the IO app.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FATAL = 2


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
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Consume events, send IO messages, publish status records until stopped."""
    configure_logging(log_level)
    try:
        settings = load_settings(config)
        asyncio.run(run_relay(settings, StopWhen(idle_for_s=exit_when_idle)))
    except FatalError as exc:
        typer.echo(f"io-relay: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None


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
) -> None:
    """Run the IO sandbox: a stand-in for IO's services API, for demos and tests."""
    try:
        settings = SandboxSettings(
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


def main() -> None:
    sys.exit(app())
