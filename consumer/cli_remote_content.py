"""`io-relay remote-content`: register io-relay's content server with IO, once per account.

IO's backend learns where to fetch a Premium message's details from a remote-content
configuration; its id goes into each message's `third_party_data.configuration_id`
(`io.services.<service>.configuration_id`). Keys print as `***`, fiscal codes masked.

Exit codes: 0 done; 1 IO refused the request or could not be reached (the message says
which); 2 io-relay is misconfigured (a missing setting, a refused MANAGE key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from consumer.config import Settings, load_settings
from consumer.content.onboarding import (
    Options,
    choose_account,
    client_for,
    new_configuration,
    services_of,
)
from consumer.errors import FatalError, TransientError
from consumer.io.configurations import Configuration, ConfigurationRefused
from consumer.redact import mask

# The same codes as consumer.cli's (which imports this module, so cannot be imported here).
EXIT_REFUSED = 1
EXIT_FATAL = 2
IO_CACHE_HOURS = 8

remote_content_app = typer.Typer(
    help="Register io-relay's content server with IO (a remote-content configuration).",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."),
]
AccountOption = Annotated[
    str | None,
    typer.Option(
        help="The account under io.accounts whose MANAGE key calls IO (default: the only one)."
    ),
]
IdArgument = Annotated[str, typer.Argument(help="The configuration's id (a ULID).")]
DescriptionOption = Annotated[
    str | None, typer.Option(help="What the configuration is for (default: from the name).")
]
TestUserOption = Annotated[
    list[str] | None,
    typer.Option(
        "--test-user",
        help="A fiscal code IO serves from the test environment instead (repeatable).",
    ),
]
TestBaseUrlOption = Annotated[
    str | None,
    typer.Option(help="The test environment's server (default: content.public_url)."),
]


_CREATE_HELP = (
    "Create the configuration; print it, and last its configuration_id.\n\n"
    "IO is given content.public_url, content.header_key_name and the first of "
    "content.api_keys, for production and, with --test-user, for a test environment."
)
_UPDATE_HELP = (
    "Replace the configuration with one rebuilt from the current settings.\n\n"
    "This is how a new content.public_url or a rotated key reaches IO. Options not given "
    "keep IO's values.\n\n"
    f"Rotating the key: put the new key first in content.api_keys and keep the old one "
    f"after it; run this; keep the old key for {IO_CACHE_HOURS} h more, since IO caches "
    "configurations that long."
)


@remote_content_app.command("create", help=_CREATE_HELP)
def create(
    *,
    name: Annotated[str, typer.Option(help="The configuration's name, shown to IO's staff.")],
    config: ConfigOption = None,
    account: AccountOption = None,
    description: DescriptionOption = None,
    test_user: TestUserOption = None,
    test_base_url: TestBaseUrlOption = None,
) -> None:
    """The configuration IO is to use, from the settings and the options."""
    options = Options(name, description, tuple(test_user or ()), test_base_url)

    def act(settings: Settings, chosen: str) -> None:
        body = new_configuration(settings, options)
        with client_for(settings, chosen) as client:
            created = client.create(body)
        _print(created)
        _hint(settings, chosen)
        typer.echo(f"configuration_id: {created.configuration_id}")

    _run("create", config, account, act)


@remote_content_app.command("show")
def show(
    configuration_id: IdArgument, config: ConfigOption = None, account: AccountOption = None
) -> None:
    """Print the configuration as IO holds it."""

    def act(settings: Settings, chosen: str) -> None:
        with client_for(settings, chosen) as client:
            stored = client.get(configuration_id)
        _print(stored)
        typer.echo(f"configuration_id: {stored.configuration_id}")

    _run("show", config, account, act)


@remote_content_app.command("list")
def list_configurations(config: ConfigOption = None, account: AccountOption = None) -> None:
    """Print every configuration the account owns, as a JSON array."""

    def act(settings: Settings, chosen: str) -> None:
        with client_for(settings, chosen) as client:
            owned = client.all()
        shown = [configuration.shown() for configuration in owned]
        typer.echo(mask(json.dumps(shown, indent=2, ensure_ascii=False)))

    _run("list", config, account, act)


@remote_content_app.command("update", help=_UPDATE_HELP)
def update(
    configuration_id: IdArgument,
    *,
    config: ConfigOption = None,
    account: AccountOption = None,
    name: Annotated[str | None, typer.Option(help="A new name (default: IO's).")] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    test_user: TestUserOption = None,
    test_base_url: TestBaseUrlOption = None,
) -> None:
    """PUT the whole body: IO has no partial update."""
    options = Options(name, description, tuple(test_user or ()), test_base_url)

    def act(settings: Settings, chosen: str) -> None:
        with client_for(settings, chosen) as client:
            current = client.get(configuration_id)
            client.update(configuration_id, new_configuration(settings, options, current))
            stored = client.get(configuration_id)
        _print(stored)
        typer.echo(
            f"updated; IO may use the previous version for up to {IO_CACHE_HOURS} h: keep "
            "an old key in content.api_keys (after the new one) until then",
            err=True,
        )
        typer.echo(f"configuration_id: {stored.configuration_id}")

    _run("update", config, account, act)


def _run(
    command: str,
    config: Path | None,
    account: str | None,
    act: Callable[[Settings, str], None],
) -> None:
    """Settings, account, the call; each failure as one message and its exit code."""
    try:
        settings = load_settings(config)
        act(settings, choose_account(settings, account))
    except (ConfigurationRefused, TransientError) as exc:
        typer.echo(f"io-relay remote-content {command}: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except FatalError as exc:
        typer.echo(f"io-relay remote-content {command}: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None


def _print(configuration: Configuration) -> None:
    typer.echo(mask(json.dumps(configuration.shown(), indent=2, ensure_ascii=False)))


def _hint(settings: Settings, account: str) -> None:
    services = services_of(settings, account)
    where = ", ".join(f"io.services.{name}.configuration_id" for name in services)
    typer.echo(
        f"put it in {where or 'io.services.<service>.configuration_id'} "
        f"(the services of account {account} that send Premium content)",
        err=True,
    )
