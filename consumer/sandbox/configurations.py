"""IO's remote-content configurations (rc-func, `index_external.yaml`), behind the gateway.

A Premium sender registers where IO's backend fetches a message's details and attachments
(`base_url`, an API key for a header), once for production and optionally once for test
users, and gets a `configuration_id` to put in `third_party_data`. A configuration belongs to
the caller's account: another account's id is answered 404, as if it did not exist.

The keys stay in this process's memory; the admin view shows their fingerprints only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from ulid import ULID

from consumer.io.models import ULID_PATTERN, FiscalCode
from consumer.sandbox._asgi import Request, Response
from consumer.sandbox.auth import Caller, key_fingerprint
from consumer.sandbox.problems import forbidden, invalid_body, invalid_payload, not_found
from consumer.sandbox.routing import Route

ConfigurationHandler = Callable[[Request, dict[str, str], Caller], Response]

CONFIGURATIONS = "/api/v1/messages-sending/remote-contents/configurations"
NO_CONFIGURATION = "No configuration found for the provided ID."
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
ConfigurationId = Annotated[str, StringConstraints(pattern=ULID_PATTERN)]


class _Body(BaseModel):
    """io-ts reads a body leniently about unknown fields but strictly about types."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class AuthenticationConfig(_Body):
    """RCAuthenticationConfig: IO sends `<header_key_name>: <key>` to the content server."""

    header_key_name: NonEmpty
    key: NonEmpty
    type: NonEmpty


class ProdEnvironment(_Body):
    """RCConfigurationProdEnvironment."""

    base_url: NonEmpty
    details_authentication: AuthenticationConfig


class TestEnvironment(ProdEnvironment):
    """RCConfigurationTestEnvironment: used instead of prod for the fiscal codes listed."""

    test_users: list[FiscalCode]


class NewConfiguration(_Body):
    """NewRCConfigurationPublic: the body of create and update."""

    name: NonEmpty
    description: NonEmpty
    has_precondition: Literal["ALWAYS", "ONCE", "NEVER"]
    disable_lollipop_for: list[FiscalCode]
    is_lollipop_enabled: bool
    test_environment: TestEnvironment | None = None
    prod_environment: ProdEnvironment | None = None

    def environment_for(self, fiscal_code: str) -> ProdEnvironment | None:
        """The environment IO's backend uses for this citizen: test users get the test one."""
        test = self.test_environment
        if test is not None and fiscal_code in test.test_users:
            return test
        return self.prod_environment


@dataclass(frozen=True, slots=True)
class StoredConfiguration:
    configuration_id: str
    account: str
    configuration: NewConfiguration

    def public(self) -> dict[str, Any]:
        """RCConfigurationPublic (create's answer): the id, then the fields as sent."""
        body = self.configuration.model_dump(mode="json", exclude_none=True)
        return {"configuration_id": self.configuration_id, **body}

    def response(self) -> dict[str, Any]:
        """RCConfigurationResponse (get and list): the public view and its owner."""
        return {**self.public(), "user_id": self.account}

    def admin_view(self) -> dict[str, Any]:
        """For `GET /__sandbox/configurations`: each key replaced by its fingerprint."""
        view = self.response()
        for name in ("test_environment", "prod_environment"):
            environment = view.get(name)
            if environment is not None:
                authentication = environment["details_authentication"]
                authentication["key_fingerprint"] = key_fingerprint(authentication.pop("key"))
        return view


class ConfigurationStore:
    """Every configuration created, for the life of the process."""

    def __init__(self) -> None:
        self._configurations: dict[str, StoredConfiguration] = {}

    def create(self, account: str, configuration: NewConfiguration) -> StoredConfiguration:
        stored = StoredConfiguration(str(ULID()), account, configuration)
        self._configurations[stored.configuration_id] = stored
        return stored

    def replace(self, stored: StoredConfiguration, configuration: NewConfiguration) -> None:
        self._configurations[stored.configuration_id] = StoredConfiguration(
            stored.configuration_id, stored.account, configuration
        )

    def owned(self, configuration_id: str, account: str) -> StoredConfiguration | None:
        """The configuration, only for the account that created it."""
        stored = self._configurations.get(configuration_id)
        return stored if stored is not None and stored.account == account else None

    def of_account(self, account: str) -> list[StoredConfiguration]:
        return [c for c in self._configurations.values() if c.account == account]

    def all(self) -> list[StoredConfiguration]:
        return list(self._configurations.values())


class ConfigurationsApi:
    """createRCConfiguration, listRCConfiguration, getRCConfiguration, updateRCConfiguration."""

    def __init__(self, store: ConfigurationStore) -> None:
        self._store = store

    def routes(self) -> list[Route[ConfigurationHandler]]:
        one = CONFIGURATIONS + "/{configuration_id}"
        return [
            Route("POST", CONFIGURATIONS, self.create),
            Route("GET", CONFIGURATIONS, self.list),
            Route("GET", one, self.get),
            Route("PUT", one, self.update),
        ]

    def admin_view(self, _: Request, __: Mapping[str, str]) -> Response:
        """`GET /__sandbox/configurations`: every account's, keys as fingerprints."""
        return Response.json(200, [stored.admin_view() for stored in self._store.all()])

    def create(self, request: Request, _: dict[str, str], caller: Caller) -> Response:
        """201 with RCConfigurationPublic and a new configuration_id."""
        if not caller.may_manage:
            return forbidden()
        try:
            configuration = NewConfiguration.model_validate_json(request.body)
        except ValidationError as exc:
            return invalid_body(exc)
        return Response.json(201, self._store.create(caller.account, configuration).public())

    def list(self, _: Request, __: dict[str, str], caller: Caller) -> Response:
        """RCConfigurationListResponse: the account's configurations, oldest first."""
        if not caller.may_manage:
            return forbidden()
        owned = self._store.of_account(caller.account)
        return Response.json(200, {"rcConfigList": [c.response() for c in owned]})

    def get(self, _: Request, params: dict[str, str], caller: Caller) -> Response:
        found = self._find(params, caller)
        if isinstance(found, Response):
            return found
        return Response.json(200, found.response())

    def update(self, request: Request, params: dict[str, str], caller: Caller) -> Response:
        """204: the whole configuration replaced; its id and owner stay."""
        found = self._find(params, caller)
        if isinstance(found, Response):
            return found
        try:
            configuration = NewConfiguration.model_validate_json(request.body)
        except ValidationError as exc:
            return invalid_body(exc)
        self._store.replace(found, configuration)
        return Response(204)

    def _find(self, params: dict[str, str], caller: Caller) -> StoredConfiguration | Response:
        """The caller's configuration named in the path, or the answer refusing it."""
        if not caller.may_manage:
            return forbidden()
        configuration_id = params["configuration_id"]
        try:
            _ConfigurationIdPath.model_validate({"configuration_id": configuration_id})
        except ValidationError:
            return invalid_payload(f"configurationId: {configuration_id!r} is not a ULID")
        stored = self._store.owned(configuration_id, caller.account)
        return not_found(NO_CONFIGURATION) if stored is None else stored


class _ConfigurationIdPath(_Body):
    configuration_id: ConfigurationId
