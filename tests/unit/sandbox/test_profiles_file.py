"""Reading the profiles file: both shapes, JSON and YAML, and errors that name the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.errors import ConfigurationError
from consumer.sandbox.profiles_file import (
    DEFAULT_ORGANIZATION_FISCAL_CODE,
    CitizenProfile,
    Subscription,
    load_profiles_file,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_file_means_no_citizens_and_any_key() -> None:
    loaded = load_profiles_file(None)
    assert loaded.profiles == {}
    assert loaded.subscriptions is None


def test_short_yaml_form_lists_citizens(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        "AAAAAA00A00A000A: {sender_allowed: true, preferred_languages: [it_IT, en_GB]}\n"
        "BBBBBB00B00B000B: {sender_allowed: false}\n",
    )

    loaded = load_profiles_file(path)

    assert loaded.profiles == {
        "AAAAAA00A00A000A": CitizenProfile(
            sender_allowed=True, preferred_languages=["it_IT", "en_GB"]
        ),
        "BBBBBB00B00B000B": CitizenProfile(sender_allowed=False),
    }
    assert loaded.subscriptions is None


def test_long_json_form_adds_subscriptions(tmp_path: Path) -> None:
    document = {
        "profiles": {"AAAAAA00A00A000A": {"sender_allowed": True}},
        "subscriptions": {
            "key-1": {"service": "tari", "account": "comune"},
            "key-2": {
                "service": "tributi",
                "account": "comune",
                "organization_fiscal_code": "12345678901",
            },
        },
    }
    path = write(tmp_path, "p.json", json.dumps(document))

    loaded = load_profiles_file(path)

    assert list(loaded.profiles) == ["AAAAAA00A00A000A"]
    assert loaded.subscriptions == {
        "key-1": Subscription(
            service="tari",
            account="comune",
            organization_fiscal_code=DEFAULT_ORGANIZATION_FISCAL_CODE,
        ),
        "key-2": Subscription(
            service="tributi", account="comune", organization_fiscal_code="12345678901"
        ),
    }


def test_long_form_with_subscriptions_only(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yml", "subscriptions:\n  k: {service: s, account: a}\n")
    loaded = load_profiles_file(path)
    assert loaded.profiles == {}
    assert loaded.subscriptions is not None
    assert set(loaded.subscriptions) == {"k"}


def test_empty_file_means_no_citizens(tmp_path: Path) -> None:
    assert load_profiles_file(write(tmp_path, "p.yaml", "")).profiles == {}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("AAAAAA00A00A00AA: {sender_allowed: true}", "profiles.AAAAAA00A00A00AA: String should"),
        ("AAAAAA00A00A000A: {}", "profiles.AAAAAA00A00A000A.sender_allowed: Field required"),
        (
            "AAAAAA00A00A000A: {sender_allowed: 'yes'}",
            "profiles.AAAAAA00A00A000A.sender_allowed: Input should be a valid boolean",
        ),
        (
            "AAAAAA00A00A000A: {sender_allowed: true, preferred_languages: [en_US]}",
            "profiles.AAAAAA00A00A000A.preferred_languages.0: Input should be 'it_IT'",
        ),
        (
            "AAAAAA00A00A000A: {sender_allowed: true, email: x@example.com}",
            "profiles.AAAAAA00A00A000A.email: Extra inputs are not permitted",
        ),
        ("- AAAAAA00A00A000A", "profiles: Input should be a valid dictionary"),
        (
            "subscriptions: {k: {service: s}}",
            "subscriptions.k.account: Field required",
        ),
        (
            "subscriptions: {k: {service: s, account: a, organization_fiscal_code: '123'}}",
            "subscriptions.k.organization_fiscal_code: String should match pattern",
        ),
    ],
)
def test_bad_entries_are_named(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, "p.yaml", text)

    with pytest.raises(ConfigurationError) as caught:
        load_profiles_file(path)

    assert str(caught.value).startswith(f"profiles file {path}: ")
    assert named in str(caught.value)


def test_unparsable_yaml_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "AAAAAA00A00A000A: {sender_allowed: true\n")
    with pytest.raises(ConfigurationError, match=r"is not valid yaml"):
        load_profiles_file(path)


def test_unparsable_json_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", "{")
    with pytest.raises(ConfigurationError, match=r"is not valid json"):
        load_profiles_file(path)


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", "")
    with pytest.raises(ConfigurationError, match=r"must end in \.json, \.yaml or \.yml"):
        load_profiles_file(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read profiles file"):
        load_profiles_file(tmp_path / "absent.yaml")
