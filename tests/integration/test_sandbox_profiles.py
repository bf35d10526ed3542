"""Profile checks on a real sandbox: getProfile and getProfileByPOST."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.sandbox import (
    ALLOWED,
    ALLOWED_NO_LANGUAGES,
    BLOCKED,
    NO_PROFILE,
    Sandbox,
    SandboxFactory,
    api_headers,
)

PROFILES = "/api/v1/profiles"


def by_get(sandbox: Sandbox, fiscal_code: str) -> httpx.Response:
    return httpx.get(f"{sandbox.base_url}{PROFILES}/{fiscal_code}", headers=api_headers())


def by_post(sandbox: Sandbox, fiscal_code: str) -> httpx.Response:
    return httpx.post(
        f"{sandbox.base_url}{PROFILES}", json={"fiscal_code": fiscal_code}, headers=api_headers()
    )


@pytest.mark.parametrize("lookup", [by_get, by_post])
@pytest.mark.parametrize(
    ("fiscal_code", "profile"),
    [
        (ALLOWED, {"sender_allowed": True, "preferred_languages": ["it_IT", "en_GB"]}),
        (ALLOWED_NO_LANGUAGES, {"sender_allowed": True}),
        (BLOCKED, {"sender_allowed": False, "preferred_languages": ["de_DE"]}),
    ],
)
def test_listed_citizen_gets_the_limited_profile(
    sandbox: Sandbox, lookup: object, fiscal_code: str, profile: dict[str, object]
) -> None:
    assert callable(lookup)
    response = lookup(sandbox, fiscal_code)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == profile


@pytest.mark.parametrize("lookup", [by_get, by_post])
def test_unlisted_citizen_is_404_problem(sandbox: Sandbox, lookup: object) -> None:
    assert callable(lookup)
    response = lookup(sandbox, NO_PROFILE)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert response.json()["detail"] == "No user found for the provided fiscal code."


def test_without_a_profiles_file_nobody_has_a_profile(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off")
    assert by_get(sandbox, ALLOWED).status_code == 404
    assert by_post(sandbox, ALLOWED).status_code == 404


@pytest.mark.parametrize("fiscal_code", ["AAAAAA00A00A000", "aaaaaa00a00a000a", "AAAAAA00A00A00AA"])
def test_invalid_fiscal_code_in_path_is_400(sandbox: Sandbox, fiscal_code: str) -> None:
    response = by_get(sandbox, fiscal_code)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("fiscal_code: String should match pattern")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b'{"fiscal_code": "AAAAAA00A00A000"}', "fiscal_code: String should match pattern"),
        (b'{"fiscal_code": 42}', "fiscal_code: Input should be a valid string"),
        (b"{}", "fiscal_code: Field required"),
        (b"AAAAAA00A00A000A", "body: Invalid JSON"),
    ],
)
def test_invalid_body_is_400_naming_the_field(sandbox: Sandbox, content: bytes, named: str) -> None:
    response = httpx.post(f"{sandbox.base_url}{PROFILES}", content=content, headers=api_headers())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Invalid payload"
    assert named in response.json()["detail"]
