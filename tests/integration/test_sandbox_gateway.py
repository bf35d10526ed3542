"""The gateway in front of IO, on a real sandbox: subscription keys and the rate limit."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fixtures.sandbox import (
    ALLOWED,
    DEFAULT_PROFILES,
    Sandbox,
    SandboxFactory,
    api_headers,
    message_body,
)

MISSING = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)
SUBSCRIPTIONS = {
    "key-a1": {"service": "tari", "account": "comune-a"},
    "key-a2": {"service": "tributi", "account": "comune-a"},
    "key-b": {"service": "tari", "account": "comune-b"},
}


def profile(sandbox: Sandbox, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{sandbox.base_url}/api/v1/profiles/{ALLOWED}", headers=headers)


@pytest.mark.parametrize("headers", [None, {"Ocp-Apim-Subscription-Key": ""}])
def test_missing_key_is_401_like_apim(sandbox: Sandbox, headers: dict[str, str] | None) -> None:
    response = profile(sandbox, headers)

    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "message": MISSING}
    assert "x-rate-limit-remaining" not in response.headers


def test_missing_key_on_submit_is_401_and_nothing_is_recorded(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox()
    response = httpx.post(f"{sandbox.base_url}/api/v1/messages", json=message_body())
    assert response.status_code == 401
    assert sandbox.messages() == []


def test_any_key_is_accepted_without_a_key_list(sandbox: Sandbox) -> None:
    assert profile(sandbox, api_headers("whatever")).status_code == 200


@pytest.fixture
def keyed_sandbox(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox(
        rate_limit="3/30s", profiles={"profiles": DEFAULT_PROFILES, "subscriptions": SUBSCRIPTIONS}
    )


def test_with_a_key_list_other_keys_are_401_invalid(keyed_sandbox: Sandbox) -> None:
    refused = profile(keyed_sandbox, api_headers("not-listed"))
    accepted = profile(keyed_sandbox, api_headers("key-a1"))

    assert refused.status_code == 401
    assert refused.json() == {"statusCode": 401, "message": INVALID}
    assert accepted.status_code == 200


def test_services_of_one_account_share_its_rate_limit(keyed_sandbox: Sandbox) -> None:
    account_a = [profile(keyed_sandbox, api_headers(key)) for key in ("key-a1", "key-a2", "key-a1")]
    fourth_a = profile(keyed_sandbox, api_headers("key-a2"))
    account_b = [profile(keyed_sandbox, api_headers("key-b")) for _ in range(3)]

    assert [r.status_code for r in account_a] == [200, 200, 200]
    assert [r.headers["x-rate-limit-remaining"] for r in account_a] == ["2", "1", "0"]
    assert fourth_a.status_code == 429
    assert [r.status_code for r in account_b] == [200, 200, 200]


def test_exactly_n_calls_pass_then_429_then_success_after_retry_after(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(rate_limit="20/3s", profiles=DEFAULT_PROFILES)
    base, headers = sandbox.base_url, api_headers()
    calls = [
        lambda: httpx.get(f"{base}/api/v1/profiles/{ALLOWED}", headers=headers),
        lambda: httpx.post(
            f"{base}/api/v1/profiles", json={"fiscal_code": ALLOWED}, headers=headers
        ),
        lambda: httpx.post(f"{base}/api/v1/messages", json=message_body(), headers=headers),
    ]

    answers = [calls[i % 3]() for i in range(26)]

    accepted = [a for a in answers if a.status_code != 429]
    refused = [a for a in answers if a.status_code == 429]
    assert len(accepted) == 20  # every kind of call counts
    assert answers[:20] == accepted
    assert [a.headers["x-rate-limit-remaining"] for a in accepted] == [
        str(n) for n in range(19, -1, -1)
    ]
    waits = []
    for answer in refused:
        retry_after = int(answer.headers["x-rate-limit-retry-after"])
        assert 1 <= retry_after <= 3
        assert answer.headers["retry-after"] == str(retry_after)
        assert answer.headers["x-rate-limit-remaining"] == "0"
        assert answer.json() == {
            "statusCode": 429,
            "message": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
        }
        waits.append(retry_after)
    assert len(sandbox.messages()) == 6  # every third of the first 20 calls; none refused
    assert sandbox.stats()["rate_limited"] == 6

    time.sleep(max(waits))
    assert calls[0]().status_code == 200


def test_refused_calls_do_not_count(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="2/2s", profiles=DEFAULT_PROFILES)
    assert [profile(sandbox, api_headers()).status_code for _ in range(2)] == [200, 200]
    refused_until = time.monotonic() + 1.0
    last_refusal = profile(sandbox, api_headers())
    while time.monotonic() < refused_until:
        last_refusal = profile(sandbox, api_headers())
        assert last_refusal.status_code == 429

    time.sleep(int(last_refusal.headers["retry-after"]))

    # Had the 429s counted, the window would still be full.
    assert [profile(sandbox, api_headers()).status_code for _ in range(2)] == [200, 200]


def test_default_policy_is_150_calls_per_5_seconds(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(profiles=DEFAULT_PROFILES)
    with httpx.Client(headers=api_headers()) as client:
        statuses = [
            client.get(f"{sandbox.base_url}/api/v1/profiles/{ALLOWED}").status_code
            for _ in range(152)
        ]
    assert statuses == [200] * 150 + [429] * 2
