"""A `{name...}` segment captures one segment or more, slashes included."""

from __future__ import annotations

import pytest

from consumer.sandbox.routing import MethodNotAllowed, Route, Router

ROUTER = Router[str](
    [
        Route("POST", "/docs/{path...}/behaviour", "behaviour"),
        Route("GET", "/docs/{path...}", "fetch"),
        Route("GET", "/docs", "list"),
    ]
)


def test_rest_of_path_is_captured_with_its_slashes() -> None:
    match = ROUTER.match("GET", "/docs/certificati/2026/abc.pdf")
    assert match is not None
    assert (match.route.target, match.params) == ("fetch", {"path": "certificati/2026/abc.pdf"})


def test_fixed_segments_after_the_rest_are_matched_first_when_listed_first() -> None:
    match = ROUTER.match("POST", "/docs/a/b.pdf/behaviour")
    assert match is not None
    assert (match.route.target, match.params) == ("behaviour", {"path": "a/b.pdf"})


def test_rest_needs_at_least_one_segment() -> None:
    match = ROUTER.match("GET", "/docs/")
    assert match is not None
    assert match.route.target == "list"


def test_other_method_on_a_rest_path_is_not_allowed() -> None:
    with pytest.raises(MethodNotAllowed):
        ROUTER.match("DELETE", "/docs/a.pdf")
