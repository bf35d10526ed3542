"""The remote-content configurations client: the bodies it sends (held against IO's spec),
what it reads back, and how IO's refusals become io-relay's errors, never with a key in them.

respx stands in for IO; tests/integration/test_remote_content_onboarding.py runs the same
calls against the sandbox over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
import yaml
from jsonschema.protocols import Validator
from pydantic import SecretStr

from consumer.errors import AuthenticationFault, ConfigurationError, FatalError, TransientError
from consumer.io.client import KEY_HEADER
from consumer.io.configurations import (
    CONFIGURATIONS_PATH,
    AuthenticationConfig,
    ConfigurationRefused,
    ConfigurationsClient,
    HasPrecondition,
    NewConfiguration,
    ProdEnvironment,
)
from consumer.io.configurations import TestEnvironment as RcTestEnvironment
from tests.contract.io_spec import spec_dir, validator_for

BASE = "https://io.test"
URL = BASE + CONFIGURATIONS_PATH
MANAGE_KEY = "manage-key-0123456789"
API_KEY = "content-api-key-abcdef"
CONFIGURATION_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
TEST_USER = "AAAAAA00A00A000A"
RC_SPEC = "io-messages/apps/rc-func/openapi/index_external.yaml"


@pytest.fixture(scope="module")
def rc_spec() -> dict[str, Any]:
    path = spec_dir() / RC_SPEC
    if not path.is_file():
        pytest.skip(f"IO's rc-func spec is not at {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return spec


def _validator(spec: dict[str, Any], definition: str) -> Validator:
    return validator_for(spec, definition)


def body(*, test_users: list[str] | None = None) -> NewConfiguration:
    auth = AuthenticationConfig(header_key_name="x-api-key", key=SecretStr(API_KEY))
    prod = ProdEnvironment(base_url="https://content.example.it", details_authentication=auth)
    test = (
        RcTestEnvironment(
            base_url=prod.base_url, details_authentication=auth, test_users=test_users
        )
        if test_users
        else None
    )
    return NewConfiguration(
        name="TARI", description="TARI notices", prod_environment=prod, test_environment=test
    )


def answer(**fields: Any) -> dict[str, Any]:
    """RCConfigurationPublic as IO would send it back: the body, its id."""
    sent = body(test_users=[TEST_USER]).wire_body()
    return {"configuration_id": CONFIGURATION_ID, **sent, **fields}


@pytest.fixture
def io() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def client() -> Iterator[ConfigurationsClient]:
    with ConfigurationsClient(BASE, SecretStr(MANAGE_KEY), account="comune") as configurations:
        yield configurations


def sent_json(route: respx.Route) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(route.calls.last.request.content)
    return result


def test_create_sends_a_body_the_spec_accepts_with_the_manage_key(
    io: respx.MockRouter, client: ConfigurationsClient, rc_spec: dict[str, Any]
) -> None:
    route = io.post(URL).respond(201, json=answer())

    created = client.create(body(test_users=[TEST_USER]))

    sent = sent_json(route)
    _validator(rc_spec, "NewRCConfigurationPublic").validate(sent)
    assert route.calls.last.request.headers[KEY_HEADER] == MANAGE_KEY
    assert sent["prod_environment"]["details_authentication"] == {
        "header_key_name": "x-api-key",
        "key": API_KEY,
        "type": "API-KEY",
    }
    assert sent["test_environment"]["test_users"] == [TEST_USER]
    assert sent["test_environment"]["details_authentication"]["key"] == API_KEY
    assert (sent["has_precondition"], sent["is_lollipop_enabled"]) == ("NEVER", False)
    assert sent["disable_lollipop_for"] == []
    assert created.configuration_id == CONFIGURATION_ID


def test_the_answers_used_here_are_ones_the_spec_allows(rc_spec: dict[str, Any]) -> None:
    _validator(rc_spec, "RCConfigurationPublic").validate(answer())
    _validator(rc_spec, "RCConfigurationResponse").validate(answer(user_id="comune"))


def test_every_precondition_value_is_one_the_spec_lists(rc_spec: dict[str, Any]) -> None:
    listed = rc_spec["definitions"]["HasPrecondition"]["x-extensible-enum"]

    assert sorted(HasPrecondition) == sorted(listed)


def test_a_body_without_a_test_environment_is_valid_too(rc_spec: dict[str, Any]) -> None:
    sent = body().wire_body()

    _validator(rc_spec, "NewRCConfigurationPublic").validate(sent)
    assert "test_environment" not in sent


def test_keys_show_only_in_the_wire_body() -> None:
    configuration = body(test_users=[TEST_USER])

    for shown in (repr(configuration), str(configuration), configuration.model_dump_json()):
        assert API_KEY not in shown
    assert API_KEY in json.dumps(configuration.wire_body())
    assert (
        configuration.model_dump(mode="json")["prod_environment"]["details_authentication"]["key"]
        == "***"
    )


def test_requests_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        NewConfiguration.model_validate({**body().wire_body(), "colour": "blue"})


def test_get_reads_the_stored_configuration_and_masks_its_keys(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    io.get(f"{URL}/{CONFIGURATION_ID}").respond(200, json=answer(user_id="comune", extra=1))

    stored = client.get(CONFIGURATION_ID)

    assert stored.user_id == "comune"
    assert stored.test_environment is not None
    assert stored.test_environment.test_users == [TEST_USER]
    assert API_KEY not in json.dumps(stored.shown())


def test_all_reads_the_list(io: respx.MockRouter, client: ConfigurationsClient) -> None:
    io.get(URL).respond(200, json={"rcConfigList": [answer(user_id="comune")]})

    [only] = client.all()

    assert only.configuration_id == CONFIGURATION_ID


def test_update_puts_the_whole_body_and_takes_204(
    io: respx.MockRouter, client: ConfigurationsClient, rc_spec: dict[str, Any]
) -> None:
    route = io.put(f"{URL}/{CONFIGURATION_ID}").respond(204)

    client.update(CONFIGURATION_ID, body())

    _validator(rc_spec, "NewRCConfigurationPublic").validate(sent_json(route))


def test_an_id_that_is_no_ulid_never_reaches_the_url(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    with pytest.raises(ConfigurationError, match="not a configuration id"):
        client.get("../../messages")
    assert not io.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_manage_key_is_an_authentication_fault_naming_the_setting(
    io: respx.MockRouter, client: ConfigurationsClient, status: int
) -> None:
    io.post(URL).respond(status, json={"statusCode": status, "message": "Access denied"})

    with pytest.raises(AuthenticationFault, match=r"io\.accounts\.comune\.manage") as caught:
        client.create(body())

    assert "Access denied" in str(caught.value)  # the gateway's `message`
    assert MANAGE_KEY not in str(caught.value)


def test_400_is_a_refusal_with_ios_detail_and_no_key(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    detail = f"value {API_KEY!r} at prod_environment is not valid; key {MANAGE_KEY}; {TEST_USER}"
    problem = {"title": "Invalid payload", "status": 400, "detail": detail}
    io.post(URL).respond(400, json=problem)

    with pytest.raises(ConfigurationRefused) as caught:
        client.create(body())

    message = str(caught.value)
    assert caught.value.status == 400
    assert isinstance(caught.value, ConfigurationError)
    assert "at prod_environment is not valid" in message
    for secret in (API_KEY, MANAGE_KEY, TEST_USER):
        assert secret not in message


def test_404_names_the_id_and_the_account(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    io.get(f"{URL}/{CONFIGURATION_ID}").respond(404, json={"detail": "No configuration found"})

    with pytest.raises(ConfigurationRefused, match=f"{CONFIGURATION_ID} for account comune"):
        client.get(CONFIGURATION_ID)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_server_errors_and_rate_limits_are_transient(
    io: respx.MockRouter, client: ConfigurationsClient, status: int
) -> None:
    io.get(f"{URL}/{CONFIGURATION_ID}").respond(status)

    with pytest.raises(TransientError, match=str(status)):
        client.get(CONFIGURATION_ID)


def test_a_create_that_failed_on_ios_side_says_it_may_exist_anyway(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    io.post(URL).respond(502)

    with pytest.raises(TransientError, match="remote-content list"):
        client.create(body())


def test_unreachable_io_is_transient(io: respx.MockRouter, client: ConfigurationsClient) -> None:
    io.get(URL).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(TransientError, match="cannot reach IO"):
        client.all()


def test_a_create_whose_answer_was_lost_may_exist(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    io.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(TransientError, match=r"never came.*may have created"):
        client.create(body())


def test_an_unreadable_success_is_fatal_and_says_where(
    io: respx.MockRouter, client: ConfigurationsClient
) -> None:
    io.post(URL).respond(201, json={"configuration_id": "nope"})

    with pytest.raises(FatalError, match=r"cannot read .*configuration_id"):
        client.create(body())


def test_a_base_url_httpx_cannot_use_is_a_configuration_error() -> None:
    with (
        ConfigurationsClient("ftp://io.test", SecretStr(MANAGE_KEY), account="a") as client,
        pytest.raises(ConfigurationError, match=r"io\.base_url"),
    ):
        client.all()
