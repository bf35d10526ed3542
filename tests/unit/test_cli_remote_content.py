"""`io-relay remote-content`: what it sends IO, what it prints, its exit codes, and that no
key (MANAGE or content) ever reaches stdout or stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
import yaml
from typer.testing import CliRunner, Result

from consumer import cli, cli_remote_content
from consumer.cli import app
from consumer.io.configurations import CONFIGURATIONS_PATH

BASE = "https://io.test"
URL = BASE + CONFIGURATIONS_PATH
MANAGE_KEY = "manage-key-0123456789"
API_KEY = "content-api-key-new"
OLD_KEY = "content-api-key-old"
SECRETS = (MANAGE_KEY, API_KEY, OLD_KEY)
CONFIGURATION_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
TEST_USER = "AAAAAA00A00A000A"


def settings(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "io": {
            "base_url": BASE,
            "accounts": {"comune": {"manage": {"key": MANAGE_KEY}}},
            "services": {"tari": {"account": "comune", "key": "service-key-1"}},
        },
        "content": {
            "public_url": "https://content.example.it/io",
            "api_keys": [{"key": API_KEY}, {"key": OLD_KEY}],
        },
    }
    for section, values in changes.items():
        document[section] = {**document[section], **values}
    return document


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(settings()))
    return path


@pytest.fixture
def io() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, ["remote-content", *args])
    for secret in SECRETS:
        assert secret not in result.output, "a key reached the output"
    return result


def stored(body: dict[str, Any]) -> dict[str, Any]:
    """IO's answer for a body it was sent: the id, the body, its owner."""
    return {"configuration_id": CONFIGURATION_ID, **body, "user_id": "comune"}


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(route.calls[index].request.content)
    return result


def test_create_sends_the_settings_and_prints_the_id_last(
    io: respx.MockRouter, config: Path
) -> None:
    route = io.post(URL).mock(
        side_effect=lambda request: respx.MockResponse(
            201, json=stored(json.loads(request.content))
        )
    )

    result = invoke(
        "create", "--config", str(config), "--name", "TARI", "--test-user", TEST_USER,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    body = sent(route)
    assert body["prod_environment"] == {
        "base_url": "https://content.example.it/io",
        "details_authentication": {
            "header_key_name": "x-api-key",
            "key": API_KEY,
            "type": "API-KEY",
        },
    }
    assert body["test_environment"]["test_users"] == [TEST_USER]
    assert body["has_precondition"] == "NEVER"  # io-relay content serves no precondition
    assert route.calls.last.request.headers["Ocp-Apim-Subscription-Key"] == MANAGE_KEY
    assert result.stdout.splitlines()[-1] == f"configuration_id: {CONFIGURATION_ID}"
    assert '"key": "***"' in result.stdout
    assert TEST_USER not in result.output  # masked as a fiscal code
    assert "io.services.tari.configuration_id" in result.stderr


def test_show_prints_the_configuration_masked(io: respx.MockRouter, config: Path) -> None:
    auth = {"header_key_name": "x-api-key", "key": API_KEY, "type": "API-KEY"}
    held = {
        "name": "TARI",
        "description": "d",
        "has_precondition": "NEVER",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": {"base_url": "https://c.example.it", "details_authentication": auth},
    }
    io.get(f"{URL}/{CONFIGURATION_ID}").respond(200, json=stored(held))

    result = invoke("show", "--config", str(config), CONFIGURATION_ID)

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout.rsplit("\n", 2)[0])
    assert shown["prod_environment"]["details_authentication"]["key"] == "***"
    assert result.stdout.splitlines()[-1] == f"configuration_id: {CONFIGURATION_ID}"


def test_update_rebuilds_from_settings_and_keeps_what_is_not_given(
    io: respx.MockRouter, config: Path
) -> None:
    auth = {"header_key_name": "x-api-key", "key": OLD_KEY, "type": "API-KEY"}
    env = {"base_url": "https://old.example.it", "details_authentication": auth}
    held = {
        "name": "TARI",
        "description": "old description",
        "has_precondition": "ALWAYS",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": env,
        "test_environment": {**env, "test_users": [TEST_USER]},
    }
    one = f"{URL}/{CONFIGURATION_ID}"
    io.get(one).respond(200, json=stored(held))
    put = io.put(one).respond(204)

    result = invoke("update", "--config", str(config), CONFIGURATION_ID, "--name", "TARI 2027")

    assert result.exit_code == 0, result.output
    body = sent(put)
    assert (body["name"], body["description"], body["has_precondition"]) == (
        "TARI 2027",
        "old description",
        "NEVER",  # reset: io-relay content serves no precondition
    )
    for environment in (body["prod_environment"], body["test_environment"]):
        assert environment["base_url"] == "https://content.example.it/io"
        assert environment["details_authentication"]["key"] == API_KEY  # the first: the new
    assert body["test_environment"]["test_users"] == [TEST_USER]
    assert "8 h" in result.stderr
    assert result.stdout.splitlines()[-1] == f"configuration_id: {CONFIGURATION_ID}"


def test_a_refusal_by_io_exits_1_with_one_line_and_no_key(
    io: respx.MockRouter, config: Path
) -> None:
    detail = f"value {API_KEY} is not a valid key"
    io.post(URL).respond(400, json={"status": 400, "title": "Invalid", "detail": detail})

    result = invoke("create", "--config", str(config), "--name", "TARI")

    assert result.exit_code == cli.EXIT_INVALID
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "refused the request (400): value *** is not a valid key" in result.stderr


def test_a_refused_manage_key_exits_2_naming_the_setting(
    io: respx.MockRouter, config: Path
) -> None:
    io.get(f"{URL}/{CONFIGURATION_ID}").respond(401, json={"statusCode": 401, "message": "no"})

    result = invoke("show", "--config", str(config), CONFIGURATION_ID)

    assert result.exit_code == cli.EXIT_FATAL
    assert "io.accounts.comune.manage" in result.stderr


def test_an_unknown_id_exits_1(io: respx.MockRouter, config: Path) -> None:
    io.get(f"{URL}/{CONFIGURATION_ID}").respond(404, json={"detail": "not found"})

    result = invoke("show", "--config", str(config), CONFIGURATION_ID)

    assert result.exit_code == cli.EXIT_INVALID
    assert CONFIGURATION_ID in result.stderr


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"io": {"accounts": {"comune": {}}}}, "io.accounts.comune.manage is not set"),
        ({"content": {"public_url": None}}, "content.public_url is not set"),
        ({"content": {"api_keys": []}}, "content.api_keys is empty"),
        (
            {"io": {"accounts": {"a": {"manage": {"key": MANAGE_KEY}}, "b": {}}}},
            "say which with --account",
        ),
    ],
)
def test_missing_settings_exit_2_saying_which(
    io: respx.MockRouter, tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "config.yaml"
    document = settings(**changes)
    if "accounts" in changes.get("io", {}) and "a" in changes["io"]["accounts"]:
        document["io"]["services"] = {}
    path.write_text(yaml.safe_dump(document))

    result = invoke("create", "--config", str(path), "--name", "TARI")

    assert result.exit_code == cli.EXIT_FATAL
    assert expected in result.stderr
    assert not io.calls


def test_a_bad_test_user_is_refused_before_any_call(io: respx.MockRouter, config: Path) -> None:
    result = invoke("create", "--config", str(config), "--name", "T", "--test-user", "RSSMRA85")

    assert result.exit_code == cli.EXIT_FATAL
    assert "--test-user #1 is not a fiscal code" in result.stderr
    assert not io.calls


def test_the_exit_codes_are_the_clis() -> None:
    assert (cli_remote_content.EXIT_REFUSED, cli_remote_content.EXIT_FATAL) == (
        cli.EXIT_INVALID,
        cli.EXIT_FATAL,
    )


@pytest.mark.parametrize("command", [[], ["create"], ["show"], ["list"], ["update"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")

    assert result.exit_code == 0
    assert "Usage" in result.output


def test_update_help_warns_of_ios_cache() -> None:
    assert "IO caches" in invoke("update", "--help").output
