"""Remote-content configurations and the Premium submit refusals, on a real sandbox."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from ulid import ULID

from consumer.sandbox.auth import key_fingerprint
from tests.fixtures.sandbox import (
    ALLOWED,
    DEFAULT_PROFILES,
    Sandbox,
    SandboxFactory,
    api_headers,
    message_body,
)

CONFIGURATIONS = "/api/v1/messages-sending/remote-contents/configurations"
MESSAGES = "/api/v1/messages"
SUBSCRIPTIONS = {
    "send-a": {"service": "tari", "account": "comune-a"},
    "manage-a": {"service": "tari", "account": "comune-a", "manage": True},
    "manage-b": {"service": "anagrafe", "account": "comune-b", "manage": True},
    "send-b": {"service": "anagrafe", "account": "comune-b"},
}
SECRET_KEY = "content-server-secret-key"


def configuration(**fields: Any) -> dict[str, Any]:
    """A valid NewRCConfigurationPublic; keywords replace top-level fields."""
    body: dict[str, Any] = {
        "name": "Certificati anagrafici",
        "description": "Il server dei contenuti del comune",
        "has_precondition": "NEVER",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": {
            "base_url": "https://contenuti.comune.example/io",
            "details_authentication": {
                "header_key_name": "X-Api-Key",
                "key": SECRET_KEY,
                "type": "API-KEY",
            },
        },
    }
    return {**body, **fields}


def premium_body(configuration_id: str | None, **fields: Any) -> dict[str, Any]:
    third_party: dict[str, Any] = {"id": "pratica-42", "has_remote_content": True}
    if configuration_id is not None:
        third_party["configuration_id"] = configuration_id
    body = message_body(**fields)
    body["content"]["third_party_data"] = third_party
    return body


@pytest.fixture
def accounts(start_sandbox: SandboxFactory) -> Sandbox:
    """A sandbox whose profiles file lists keys of two accounts, each with a MANAGE key."""
    return start_sandbox(
        rate_limit="off", profiles={"profiles": DEFAULT_PROFILES, "subscriptions": SUBSCRIPTIONS}
    )


def create(sandbox: Sandbox, key: str, body: object | None = None) -> httpx.Response:
    url = sandbox.base_url + CONFIGURATIONS
    return httpx.post(url, json=body or configuration(), headers=api_headers(key))


def submit(sandbox: Sandbox, body: object, key: str) -> httpx.Response:
    return httpx.post(sandbox.base_url + MESSAGES, json=body, headers=api_headers(key))


def test_create_get_update_roundtrip(accounts: Sandbox) -> None:
    created = create(accounts, "manage-a")

    assert created.status_code == 201
    configuration_id = created.json()["configuration_id"]
    assert str(ULID.from_str(configuration_id)) == configuration_id
    assert created.json() == {"configuration_id": configuration_id, **configuration()}
    one = f"{accounts.base_url}{CONFIGURATIONS}/{configuration_id}"
    fetched = httpx.get(one, headers=api_headers("manage-a"))
    assert fetched.status_code == 200
    assert fetched.json() == {**created.json(), "user_id": "comune-a"}

    changed = configuration(name="Certificati, seconda versione", has_precondition="ALWAYS")
    updated = httpx.put(one, json=changed, headers=api_headers("manage-a"))

    assert updated.status_code == 204
    assert updated.content == b""
    refetched = httpx.get(one, headers=api_headers("manage-a")).json()
    assert refetched["name"] == "Certificati, seconda versione"
    assert refetched["has_precondition"] == "ALWAYS"
    assert refetched["configuration_id"] == configuration_id
    listed = httpx.get(accounts.base_url + CONFIGURATIONS, headers=api_headers("manage-a"))
    assert listed.json() == {"rcConfigList": [refetched]}


def test_another_accounts_configuration_is_not_found(accounts: Sandbox) -> None:
    configuration_id = create(accounts, "manage-a").json()["configuration_id"]
    one = f"{accounts.base_url}{CONFIGURATIONS}/{configuration_id}"

    assert httpx.get(one, headers=api_headers("manage-b")).status_code == 404
    assert httpx.put(one, json=configuration(), headers=api_headers("manage-b")).status_code == 404
    listed = httpx.get(accounts.base_url + CONFIGURATIONS, headers=api_headers("manage-b"))
    assert listed.json() == {"rcConfigList": []}
    assert (
        httpx.get(one, headers=api_headers("manage-a")).json()["name"] == "Certificati anagrafici"
    )


def test_only_manage_keys_may_configure_and_they_may_not_send(accounts: Sandbox) -> None:
    refused = create(accounts, "send-a")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    listing = httpx.get(accounts.base_url + CONFIGURATIONS, headers=api_headers("send-a"))
    assert listing.status_code == 403

    sent = submit(accounts, message_body(), "manage-a")

    assert sent.status_code == 403
    assert "MANAGE" in sent.json()["detail"]
    assert submit(accounts, message_body(), "send-a").status_code == 201


def test_configuration_api_goes_through_the_gateway(accounts: Sandbox) -> None:
    missing = httpx.post(accounts.base_url + CONFIGURATIONS, json=configuration())
    wrong = create(accounts, "nobody")
    assert (missing.status_code, wrong.status_code) == (401, 401)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (configuration(name=""), "name"),
        (configuration(has_precondition="SOMETIMES"), "has_precondition"),
        (configuration(disable_lollipop_for=["not-a-fiscal-code"]), "disable_lollipop_for.0"),
        (configuration(is_lollipop_enabled="no"), "is_lollipop_enabled"),
        (
            configuration(prod_environment={"base_url": "https://x.example"}),
            "prod_environment.details_authentication",
        ),
        ({"name": "solo il nome"}, "description"),
    ],
)
def test_bad_configuration_is_400_naming_the_field(
    sandbox: Sandbox, body: dict[str, Any], named: str
) -> None:
    answer = create(sandbox, "any-key", body)

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert named in answer.json()["detail"]


def test_configuration_id_that_is_no_ulid_is_400(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}{CONFIGURATIONS}/not-a-ulid"
    assert httpx.get(url, headers=api_headers()).status_code == 400


def test_admin_view_shows_key_fingerprints_only(accounts: Sandbox) -> None:
    configuration_id = create(accounts, "manage-a").json()["configuration_id"]

    view = httpx.get(accounts.base_url + "/__sandbox/configurations")

    assert SECRET_KEY not in view.text
    assert "manage-a" not in view.text
    (entry,) = [c for c in view.json() if c["configuration_id"] == configuration_id]
    authentication = entry["prod_environment"]["details_authentication"]
    assert authentication["key_fingerprint"] == key_fingerprint(SECRET_KEY)
    assert entry["user_id"] == "comune-a"


def test_without_subscription_list_every_key_configures_and_sends(sandbox: Sandbox) -> None:
    configuration_id = create(sandbox, "open-key").json()["configuration_id"]

    sent = submit(sandbox, premium_body(configuration_id), "open-key")

    assert sent.status_code == 201


def test_third_party_message_without_configuration_id_is_403(accounts: Sandbox) -> None:
    answer = submit(accounts, premium_body(None), "send-a")

    assert answer.status_code == 403
    assert answer.json()["status"] == 403
    assert "configuration_id" in answer.json()["detail"]
    assert accounts.messages() == []


def test_another_accounts_configuration_id_is_403(accounts: Sandbox) -> None:
    of_b = create(accounts, "manage-b").json()["configuration_id"]
    unknown = str(ULID())

    assert submit(accounts, premium_body(of_b), "send-a").status_code == 403
    assert submit(accounts, premium_body(unknown), "send-a").status_code == 403
    assert submit(accounts, premium_body(of_b), "send-b").status_code == 201


@pytest.mark.parametrize(("feature_level", "expected"), [(None, 403), ("STANDARD", 403)])
def test_attachments_need_an_advanced_message(
    accounts: Sandbox, feature_level: str | None, expected: int
) -> None:
    configuration_id = create(accounts, "manage-a").json()["configuration_id"]
    body = premium_body(configuration_id)
    body["content"]["third_party_data"]["has_attachments"] = True
    if feature_level is not None:
        body["feature_level_type"] = feature_level

    refused = submit(accounts, body, "send-a")
    body["feature_level_type"] = "ADVANCED"
    accepted = submit(accounts, body, "send-a")

    assert refused.status_code == expected
    assert "ADVANCED" in refused.json()["detail"]
    assert accepted.status_code == 201
    (recorded,) = accounts.messages()
    assert recorded["fiscal_code"] == ALLOWED
    assert json.dumps(recorded["body"]) == json.dumps(body)
