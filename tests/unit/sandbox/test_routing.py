"""The small router: literal segments, captures, trailing slash, wrong method."""

from __future__ import annotations

import pytest

from consumer.sandbox.routing import MethodNotAllowed, Route, Router

ROUTER = Router[str](
    [
        Route("POST", "/api/v1/messages", "submit"),
        Route("GET", "/api/v1/messages/{fiscal_code}/{id}", "get"),
        Route("GET", "/api/v1/profiles/{fiscal_code}", "profile"),
        Route("DELETE", "/api/v1/profiles/{fiscal_code}", "forget"),
    ]
)


def test_literal_route() -> None:
    match = ROUTER.match("POST", "/api/v1/messages")
    assert match is not None
    assert match.route.target == "submit"
    assert match.params == {}


def test_captures_path_segments() -> None:
    match = ROUTER.match("GET", "/api/v1/messages/AAAAAA00A00A000A/01ABC")
    assert match is not None
    assert match.route.target == "get"
    assert match.params == {"fiscal_code": "AAAAAA00A00A000A", "id": "01ABC"}


def test_trailing_slash_is_ignored() -> None:
    match = ROUTER.match("POST", "/api/v1/messages/")
    assert match is not None
    assert match.route.target == "submit"


@pytest.mark.parametrize(
    "path", ["/api/v1", "/api/v1/messages/AAAAAA00A00A000A", "/api/v2/messages", "/"]
)
def test_unknown_path_is_none(path: str) -> None:
    assert ROUTER.match("GET", path) is None


def test_known_path_with_wrong_method_lists_the_allowed_ones() -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        ROUTER.match("PUT", "/api/v1/profiles/X")
    assert caught.value.allowed == ("GET", "DELETE")


def test_route_name_is_method_and_template() -> None:
    assert Route("GET", "/api/v1/profiles/{fiscal_code}", 1).name == (
        "GET /api/v1/profiles/{fiscal_code}"
    )
