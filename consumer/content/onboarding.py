"""From settings to IO's remote-content configuration: what `io-relay remote-content` sends.

What the settings hold (where IO reaches `io-relay content`, the header and the key it must
send) always comes from the settings, so an update after a change of `content.api_keys`
is how a rotated key reaches IO. What only the command line says (name, description, test
users) is given on create; on update, what is not given stays as IO has it. There is never
a precondition: `io-relay content` serves none, so an update also resets one set elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import SecretStr, TypeAdapter, ValidationError

from consumer.config import Settings
from consumer.content.settings import HttpUrl
from consumer.errors import ConfigurationError
from consumer.io.client import Timeouts
from consumer.io.configurations import (
    API_KEY_TYPE,
    AuthenticationConfig,
    Configuration,
    ConfigurationsClient,
    HasPrecondition,
    NewConfiguration,
    ProdEnvironment,
    TestEnvironment,
)
from consumer.io.models import FISCAL_CODE_PATTERN

_FISCAL_CODE = re.compile(FISCAL_CODE_PATTERN)
_URL: TypeAdapter[str] = TypeAdapter(HttpUrl)


@dataclass(frozen=True, slots=True)
class Options:
    """The command line's part of a configuration; None: the default (create) or what IO
    holds now (update)."""

    name: str | None = None
    description: str | None = None
    test_users: tuple[str, ...] = ()
    test_base_url: str | None = None


def choose_account(settings: Settings, account: str | None) -> str:
    """The account named, or the only one under io.accounts."""
    accounts = sorted(settings.io.accounts)
    if account is not None:
        if account not in settings.io.accounts:
            known = ", ".join(accounts) or "none"
            raise ConfigurationError(f"no account {account!r} under io.accounts (known: {known})")
        return account
    if len(accounts) != 1:
        raise ConfigurationError(
            f"io.accounts lists {len(accounts)} accounts ({', '.join(accounts)}): "
            "say which with --account"
        )
    return accounts[0]


def manage_key(settings: Settings, account: str) -> SecretStr:
    source = settings.io.accounts[account].manage
    if source is None:
        raise ConfigurationError(
            f"io.accounts.{account}.manage is not set: IO's configuration API needs the "
            "account's MANAGE subscription key (key_env or key_file)"
        )
    return source.secret()


def client_for(settings: Settings, account: str) -> ConfigurationsClient:
    """A client of IO's configuration API (io.base_url) with the account's MANAGE key."""
    timeouts = Timeouts(
        connect_s=settings.io.connect_timeout_s,
        read_s=settings.io.read_timeout_s,
        total_s=settings.io.total_timeout_s,
    )
    return ConfigurationsClient(
        settings.io.base_url,
        manage_key(settings, account),
        account=account,
        timeouts=timeouts,
    )


def services_of(settings: Settings, account: str) -> list[str]:
    """The account's services: where the configuration id is to be put."""
    return sorted(name for name, svc in settings.io.services.items() if svc.account == account)


def new_configuration(
    settings: Settings, options: Options, current: Configuration | None = None
) -> NewConfiguration:
    """The whole body for create (current None) or update (current: what IO holds)."""
    name = options.name or (current.name if current else None)
    if not name:
        raise ConfigurationError("--name is required: IO needs a name for the configuration")
    description = options.description or (current.description if current else None)
    prod = ProdEnvironment(base_url=_public_url(settings), details_authentication=_auth(settings))
    try:
        return NewConfiguration(
            name=name,
            description=description or f"{name} (io-relay content)",
            # io-relay content serves no GET /messages/{id}/precondition: IO must not ask.
            has_precondition=HasPrecondition.NEVER,
            disable_lollipop_for=[],
            is_lollipop_enabled=False,
            prod_environment=prod,
            test_environment=_test_environment(prod, options, current),
        )
    except ValidationError as exc:
        where = ", ".join(".".join(map(str, error["loc"])) for error in exc.errors())
        raise ConfigurationError(f"the configuration would be invalid ({where})") from None


def _public_url(settings: Settings) -> str:
    url = settings.content.public_url
    if url is None:
        raise ConfigurationError(
            "content.public_url is not set: it is the URL where IO reaches `io-relay content`"
        )
    return _base_url(url)


def _base_url(url: str) -> str:
    # IO's generated client joins base_url and `/messages/...` as text: no trailing slash.
    return url.rstrip("/")


def _auth(settings: Settings) -> AuthenticationConfig:
    content = settings.content
    if not content.api_keys:
        raise ConfigurationError(
            "content.api_keys is empty: the first key is the one given to IO, which "
            "`io-relay content` then accepts"
        )
    return AuthenticationConfig(
        header_key_name=content.header_key_name,
        key=content.api_keys[0].secret(),
        type=API_KEY_TYPE,
    )


def _test_environment(
    prod: ProdEnvironment, options: Options, current: Configuration | None
) -> TestEnvironment | None:
    """With test users given (or, on update, held by IO): the same server and key as prod,
    unless --test-base-url says (or said, on create) otherwise."""
    users = list(options.test_users)
    for number, user in enumerate(users, start=1):
        if not _FISCAL_CODE.match(user):
            raise ConfigurationError(
                f"--test-user #{number} is not a fiscal code (16 characters, upper case)"
            )
    if not users and current is not None and current.test_environment is not None:
        users = list(current.test_environment.test_users)
    if not users:
        if options.test_base_url is not None:
            raise ConfigurationError("--test-base-url needs at least one --test-user")
        return None
    base_url = prod.base_url
    held = current.test_environment if current is not None else None
    if held is not None and held.base_url != _held_prod_url(current):
        base_url = held.base_url  # a --test-base-url given before: it stays
    if options.test_base_url is not None:
        try:
            base_url = _base_url(_URL.validate_python(options.test_base_url))
        except ValidationError:
            raise ConfigurationError("--test-base-url is not an http(s) URL") from None
    return TestEnvironment(
        base_url=base_url,
        details_authentication=prod.details_authentication,
        test_users=list(dict.fromkeys(users)),
    )


def _held_prod_url(current: Configuration | None) -> str | None:
    prod = current.prod_environment if current is not None else None
    return prod.base_url if prod is not None else None
