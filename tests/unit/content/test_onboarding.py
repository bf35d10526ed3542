"""From settings and options to the configuration body IO is sent, on create and update."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.config import Settings
from consumer.content.onboarding import Options, choose_account, new_configuration, services_of
from consumer.errors import ConfigurationError
from consumer.io.configurations import Configuration, HasPrecondition

API_KEY = "content-api-key-new"
TEST_USER = "AAAAAA00A00A000A"
OTHER_USER = "BBBBBB00B00B000B"


def settings(**content: Any) -> Settings:
    return Settings.model_validate(
        {
            "io": {
                "accounts": {"comune": {"manage": {"key": "m"}}},
                "services": {
                    "tari": {"account": "comune", "key": "k1"},
                    "documenti": {"account": "comune", "key": "k2"},
                },
            },
            "content": {
                "public_url": "https://content.example.it/io/",
                "api_keys": [{"key": API_KEY}, {"key": "old"}],
                **content,
            },
        }
    )


def held(**fields: Any) -> Configuration:
    auth = {"header_key_name": "x-api-key", "key": "old", "type": "API-KEY"}
    prod = {"base_url": "https://old.example.it", "details_authentication": auth}
    document = {
        "configuration_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "name": "TARI",
        "description": "held",
        "has_precondition": "ONCE",
        "is_lollipop_enabled": False,
        "prod_environment": prod,
        **fields,
    }
    return Configuration.model_validate(document)


def test_create_defaults() -> None:
    body = new_configuration(settings(), Options(name="TARI")).wire_body()

    assert body == {
        "name": "TARI",
        "description": "TARI (io-relay content)",
        "has_precondition": "NEVER",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": {
            "base_url": "https://content.example.it/io",  # no trailing slash: IO appends paths
            "details_authentication": {
                "header_key_name": "x-api-key",
                "key": API_KEY,
                "type": "API-KEY",
            },
        },
    }


def test_test_users_get_a_test_environment_on_the_same_server_unless_told() -> None:
    same = new_configuration(settings(), Options(name="T", test_users=(TEST_USER, TEST_USER)))
    other = new_configuration(
        settings(),
        Options(name="T", test_users=(TEST_USER,), test_base_url="https://test.example.it/"),
    )

    assert same.test_environment is not None
    assert same.prod_environment is not None
    assert same.test_environment.base_url == same.prod_environment.base_url
    assert same.test_environment.test_users == [TEST_USER]
    assert other.test_environment is not None
    assert other.test_environment.base_url == "https://test.example.it"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (Options(name="T", test_users=("not-a-code",)), "--test-user #1 is not a fiscal code"),
        (Options(name="T", test_base_url="https://t.example.it"), "needs at least one"),
        (Options(name="T", test_users=(TEST_USER,), test_base_url="ftp://x"), "not an http"),
        (Options(), "--name is required"),
    ],
)
def test_bad_options_are_configuration_errors(options: Options, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        new_configuration(settings(), options)


def test_update_keeps_ios_values_but_takes_the_settings_environment() -> None:
    current = held(
        test_environment={
            **held().model_dump(mode="json")["prod_environment"],
            "base_url": "https://own-test.example.it",
            "test_users": [TEST_USER],
        }
    )

    body = new_configuration(settings(), Options(), current)

    assert (body.name, body.description, body.has_precondition) == (
        "TARI",
        "held",
        HasPrecondition.NEVER,  # io-relay content serves no precondition: reset
    )
    assert body.prod_environment is not None
    assert body.test_environment is not None
    assert body.prod_environment.base_url == "https://content.example.it/io"
    assert body.test_environment.base_url == "https://own-test.example.it"  # given before
    assert body.test_environment.test_users == [TEST_USER]
    assert body.keys() == [API_KEY, API_KEY]


def test_update_with_test_users_replaces_them() -> None:
    body = new_configuration(settings(), Options(test_users=(OTHER_USER,)), held())

    assert body.test_environment is not None
    assert body.test_environment.test_users == [OTHER_USER]
    assert body.test_environment.base_url == "https://content.example.it/io"


def test_the_account_is_the_only_one_or_named() -> None:
    assert choose_account(settings(), None) == "comune"
    with pytest.raises(ConfigurationError, match="no account 'x'"):
        choose_account(settings(), "x")
    assert services_of(settings(), "comune") == ["documenti", "tari"]
