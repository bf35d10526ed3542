"""IO's remote-content configurations API (rc-func, `index_external.yaml`): create, list,
get and update, with the account's MANAGE key.

A Premium sender registers there where IO's backend fetches a message's details (a base URL
and the API key IO sends it), and gets the `configuration_id` its messages carry in
`third_party_data`. This client is for `io-relay remote-content`, a one-shot command, so it
is synchronous and never retries: a person reads the outcome and decides.

Errors are translated here, into the project's tree:

    401, 403             AuthenticationFault  naming io.accounts.<account>.manage
    400, 404, other 4xx  ConfigurationRefused (a ConfigurationError) with IO's detail
    429, 5xx, transport  TransientError       (a create may have happened: `list` shows)

Keys are `SecretStr` in every model: dumped, printed or in an error they read `***`. Only
`wire_body` reveals them, for the request itself; IO's detail is scrubbed of both keys.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    StringConstraints,
    ValidationError,
    field_serializer,
)

from consumer.errors import AuthenticationFault, ConfigurationError, FatalError, TransientError
from consumer.io.client import KEY_HEADER, Timeouts
from consumer.io.models import ULID_PATTERN, FiscalCode
from consumer.redact import mask, redact

CONFIGURATIONS_PATH = "/api/v1/messages-sending/remote-contents/configurations"
MASKED = "***"
API_KEY_TYPE = "API-KEY"
_REVEAL = "reveal_keys"
_ULID = re.compile(ULID_PATTERN)

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Key = Annotated[SecretStr, Field(min_length=1)]


class HasPrecondition(StrEnum):
    """The spec's x-extensible-enum; its examples say NONE, its enum (and IO) NEVER."""

    NEVER = "NEVER"
    ONCE = "ONCE"
    ALWAYS = "ALWAYS"


def _key_out(key: SecretStr, info: SerializationInfo) -> str:
    context = info.context
    revealed = isinstance(context, dict) and context.get(_REVEAL) is True
    return key.get_secret_value() if revealed else MASKED


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class _Answer(BaseModel):
    # IO's answers may grow fields: read what is known, as IO's own decoders do.
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)


class AuthenticationConfig(_Request):
    """RCAuthenticationConfig: IO sends `<header_key_name>: <key>` to the content server."""

    header_key_name: NonEmpty
    key: Key
    type: NonEmpty = API_KEY_TYPE

    @field_serializer("key")
    def _key(self, key: SecretStr, info: SerializationInfo) -> str:
        return _key_out(key, info)


class ProdEnvironment(_Request):
    """RCConfigurationProdEnvironment."""

    base_url: NonEmpty
    details_authentication: AuthenticationConfig


class TestEnvironment(ProdEnvironment):
    """RCConfigurationTestEnvironment: IO uses it instead of prod for the users listed."""

    test_users: list[FiscalCode]


class NewConfiguration(_Request):
    """NewRCConfigurationPublic: the body of both create and update."""

    name: NonEmpty
    description: NonEmpty
    has_precondition: HasPrecondition = HasPrecondition.NEVER
    disable_lollipop_for: list[FiscalCode] = Field(default_factory=list)
    is_lollipop_enabled: bool = False
    test_environment: TestEnvironment | None = None
    prod_environment: ProdEnvironment | None = None

    def wire_body(self) -> dict[str, Any]:
        """The JSON body for IO, keys revealed: for the request only, never for printing."""
        return self.model_dump(mode="json", exclude_none=True, context={_REVEAL: True})

    def keys(self) -> list[str]:
        """The keys this body carries, to scrub them out of whatever IO answers."""
        environments = (self.prod_environment, self.test_environment)
        return [
            env.details_authentication.key.get_secret_value()
            for env in environments
            if env is not None
        ]


class AuthenticationAnswer(_Answer):
    header_key_name: str
    key: SecretStr
    type: str

    @field_serializer("key")
    def _key(self, key: SecretStr, info: SerializationInfo) -> str:
        return _key_out(key, info)


class ProdEnvironmentAnswer(_Answer):
    base_url: str
    details_authentication: AuthenticationAnswer


class TestEnvironmentAnswer(ProdEnvironmentAnswer):
    test_users: list[str] = Field(default_factory=list)


class Configuration(_Answer):
    """RCConfigurationPublic: create's answer. has_precondition is read as any text, since
    the enum is extensible."""

    configuration_id: Annotated[str, StringConstraints(pattern=ULID_PATTERN)]
    name: str
    description: str
    has_precondition: str
    disable_lollipop_for: list[str] = Field(default_factory=list)
    is_lollipop_enabled: bool
    test_environment: TestEnvironmentAnswer | None = None
    prod_environment: ProdEnvironmentAnswer | None = None

    def shown(self) -> dict[str, Any]:
        """For printing: every key `***`."""
        return self.model_dump(mode="json", exclude_none=True)


class StoredConfiguration(Configuration):
    """RCConfigurationResponse: get's and list's answer, with its owner."""

    user_id: NonEmpty


class _ConfigurationList(_Answer):
    configurations: list[StoredConfiguration] = Field(default_factory=list, alias="rcConfigList")


class ConfigurationRefused(ConfigurationError):
    """IO refused the request (400, 404, another 4xx): its `status` and (scrubbed) detail."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


_A = TypeVar("_A", bound=BaseModel)


class ConfigurationsClient:
    """One account's configurations. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        manage_key: SecretStr,
        *,
        account: str,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        timeouts = timeouts or Timeouts()
        self._account = account
        self._manage_key = manage_key
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s),
            transport=transport,
        )

    def __enter__(self) -> ConfigurationsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def create(self, body: NewConfiguration) -> Configuration:
        """createRCConfiguration: 201 with the configuration and its new id."""
        response = self._send("POST", "", body, creating=True)
        if response.status_code != 201:
            self._refuse(response, body, creating=True)
        return self._read(Configuration, response)

    def all(self) -> list[StoredConfiguration]:
        """listRCConfiguration: every configuration the account owns."""
        response = self._send("GET", "", None)
        if response.status_code != 200:
            self._refuse(response, None)
        return self._read(_ConfigurationList, response).configurations

    def get(self, configuration_id: str) -> StoredConfiguration:
        """getRCConfiguration."""
        response = self._send("GET", _path(configuration_id), None)
        if response.status_code != 200:
            self._refuse(response, None, configuration_id=configuration_id)
        return self._read(StoredConfiguration, response)

    def update(self, configuration_id: str, body: NewConfiguration) -> None:
        """updateRCConfiguration: the whole configuration replaced, 204 without a body."""
        response = self._send("PUT", _path(configuration_id), body)
        if response.status_code != 204:
            self._refuse(response, body, configuration_id=configuration_id)

    def _send(
        self, method: str, path: str, body: NewConfiguration | None, *, creating: bool = False
    ) -> httpx.Response:
        headers = {KEY_HEADER: self._manage_key.get_secret_value()}
        content = body.wire_body() if body is not None else None
        url = CONFIGURATIONS_PATH + path
        try:
            return self._http.request(method, url, json=content, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise ConfigurationError("io.base_url is not an http(s) URL") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransientError(f"cannot reach IO ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            lost = f"IO's answer never came ({type(exc).__name__})"
            raise TransientError(lost + (_MAYBE_CREATED if creating else "")) from None

    def _refuse(
        self,
        response: httpx.Response,
        body: NewConfiguration | None,
        *,
        creating: bool = False,
        configuration_id: str | None = None,
    ) -> NoReturn:
        """Raise the error this answer means."""
        status = response.status_code
        detail = self._detail(response, body)
        setting = f"io.accounts.{self._account}.manage"
        if status == 401:
            raise AuthenticationFault(f"IO refused the key in {setting} (401){detail}")
        if status == 403:
            raise AuthenticationFault(
                f"IO answered 403 to the key in {setting}: it must be the account's MANAGE "
                f"subscription key, not a service's{detail}"
            )
        if status == 429:
            raise TransientError(f"IO's gateway is rate limiting the account (429){detail}")
        if status >= 500:
            maybe = _MAYBE_CREATED if creating else ""
            raise TransientError(f"IO answered {status}{detail}{maybe}")
        if status == 404 and configuration_id is not None:
            raise ConfigurationRefused(
                f"IO has no configuration {configuration_id} for account {self._account} "
                f"(404: never created, or another account's){detail}",
                status,
            )
        if status == 400:
            raise ConfigurationRefused(f"IO refused the request (400){detail}", status)
        raise ConfigurationRefused(f"IO answered {status}{detail}", status)

    def _detail(self, response: httpx.Response, body: NewConfiguration | None) -> str:
        """IO's ProblemJson detail (or title; the gateway's `message`), with no key and no
        fiscal code in it."""
        try:
            answer = json.loads(response.content)
        except ValueError:
            return ""
        fields = answer if isinstance(answer, dict) else {}
        texts = (fields.get(name) for name in ("detail", "title", "message"))
        text = next((text for text in texts if isinstance(text, str) and text), None)
        if text is None:
            return ""
        for secret in [self._manage_key.get_secret_value(), *(body.keys() if body else [])]:
            text = text.replace(secret, MASKED)
        return f": {redact(text)}"

    def _read(self, model: type[_A], response: httpx.Response) -> _A:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            where = ", ".join(
                ".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()
            )
            raise FatalError(
                f"IO answered {response.status_code} with a body io-relay cannot read ({where})"
            ) from None


_MAYBE_CREATED = (
    "; IO may have created the configuration anyway: `io-relay remote-content list` shows "
    "the account's"
)


def _path(configuration_id: str) -> str:
    """`/<id>`, once the id is a ULID: nothing else reaches the URL."""
    if not _ULID.fullmatch(configuration_id):
        shown = mask(repr(configuration_id))
        raise ConfigurationError(f"{shown} is not a configuration id (a ULID)")
    return "/" + configuration_id
