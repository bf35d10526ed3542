"""Onboarding a Premium sender against the IO sandbox over real HTTP: `io-relay
remote-content create`, `show` and `update` as subprocesses, as an operator runs them.

The sandbox knows a service key and the account's MANAGE key; only the latter may manage
configurations. Keys must never reach the commands' output.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.fixtures.sandbox import ALLOWED, DEFAULT_PROFILES, REPO_ROOT, Sandbox, SandboxFactory

MANAGE_KEY = "manage-key-onboarding-1"
SERVICE_KEY = "service-key-onboarding-1"
FIRST_KEY = "content-key-first-0001"
ROTATED_KEY = "content-key-rotated-0002"
SECRETS = (MANAGE_KEY, SERVICE_KEY, FIRST_KEY, ROTATED_KEY)
PUBLIC_URL = "https://content.comune.example.it/io"
SUBSCRIPTIONS = {
    SERVICE_KEY: {"service": "tari", "account": "comune"},
    MANAGE_KEY: {"service": "tari", "account": "comune", "manage": True},
}


def start(start_sandbox: SandboxFactory) -> Sandbox:
    profiles = {"profiles": DEFAULT_PROFILES, "subscriptions": SUBSCRIPTIONS}
    return start_sandbox(rate_limit="off", profiles=profiles)


def write_config(path: Path, sandbox: Sandbox, api_keys: list[str]) -> Path:
    """The MANAGE key comes from a variable, as in production: see `io_relay`."""
    document = {
        "io": {
            "base_url": sandbox.base_url,
            "accounts": {"comune": {"manage": {"key_env": "ONBOARDING_MANAGE_KEY"}}},
            "services": {"tari": {"account": "comune", "key": SERVICE_KEY}},
        },
        "content": {"public_url": PUBLIC_URL, "api_keys": [{"key": key} for key in api_keys]},
    }
    path.write_text(yaml.safe_dump(document))
    return path


def io_relay(
    config: Path, *args: str, manage_key: str = MANAGE_KEY
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "consumer", "remote-content", *args, "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"ONBOARDING_MANAGE_KEY": manage_key, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr, f"a key reached the output of {args}"
    return result


def last_id(result: subprocess.CompletedProcess[str]) -> str:
    name, _, value = result.stdout.splitlines()[-1].partition(": ")
    assert name == "configuration_id", result.stdout
    return value


def stored(sandbox: Sandbox) -> list[dict[str, Any]]:
    answer = httpx.get(f"{sandbox.base_url}/__sandbox/configurations", timeout=10)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()
    return result


def fingerprint(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def test_create_show_update_round_trip(start_sandbox: SandboxFactory, tmp_path: Path) -> None:
    sandbox = start(start_sandbox)
    config = write_config(tmp_path / "config.yaml", sandbox, [FIRST_KEY])

    created = io_relay(config, "create", "--name", "TARI", "--test-user", ALLOWED)
    assert created.returncode == 0, created.stderr
    configuration_id = last_id(created)
    assert "io.services.tari.configuration_id" in created.stderr

    shown = io_relay(config, "show", configuration_id)
    assert shown.returncode == 0, shown.stderr
    assert last_id(shown) == configuration_id
    assert '"user_id": "comune"' in shown.stdout

    [before] = stored(sandbox)
    assert before["configuration_id"] == configuration_id
    assert before["prod_environment"]["base_url"] == PUBLIC_URL
    assert before["prod_environment"]["details_authentication"]["key_fingerprint"] == (
        fingerprint(FIRST_KEY)
    )
    assert before["test_environment"]["test_users"] == [ALLOWED]

    # A key rotation: the new key first, the old one kept for IO's cache.
    write_config(config, sandbox, [ROTATED_KEY, FIRST_KEY])
    updated = io_relay(config, "update", configuration_id, "--name", "TARI 2027")
    assert updated.returncode == 0, updated.stderr
    assert last_id(updated) == configuration_id
    assert "8 h" in updated.stderr

    [after] = stored(sandbox)
    assert after["configuration_id"] == configuration_id
    assert (after["name"], after["has_precondition"]) == ("TARI 2027", "NEVER")
    assert after["description"] == before["description"]
    for environment in ("prod_environment", "test_environment"):
        authentication = after[environment]["details_authentication"]
        assert authentication["key_fingerprint"] == fingerprint(ROTATED_KEY)
    assert after["test_environment"]["test_users"] == [ALLOWED]


def test_a_service_key_is_refused_and_an_unknown_id_is_not_found(
    start_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = start(start_sandbox)
    config = write_config(tmp_path / "config.yaml", sandbox, [FIRST_KEY])

    refused = io_relay(config, "create", "--name", "TARI", manage_key=SERVICE_KEY)
    unknown = io_relay(config, "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV")

    assert refused.returncode == 2
    assert "io.accounts.comune.manage" in refused.stderr
    assert unknown.returncode == 1
    assert "01ARZ3NDEKTSV4RRFFQ69G5FAV" in unknown.stderr
    assert stored(sandbox) == []
