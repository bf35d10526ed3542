"""A router for a handful of fixed paths: segments compared one by one, `{name}` captures.

Routes are few and known, so a linear scan over templates of the same length is enough and
costs less than regular expressions. One segment `{name...}` captures one segment or more
(joined back by `/`), for documents whose paths hold slashes: `/documents/{path...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Target = TypeVar("Target")


@dataclass(frozen=True, slots=True)
class Route(Generic[Target]):
    method: str
    template: str
    target: Target

    @property
    def name(self) -> str:
        """`POST /api/v1/messages`: how stats and logs name the route."""
        return f"{self.method} {self.template}"


@dataclass(frozen=True, slots=True)
class Match(Generic[Target]):
    route: Route[Target]
    params: dict[str, str]


class MethodNotAllowed(Exception):
    def __init__(self, allowed: Sequence[str]) -> None:
        self.allowed = tuple(allowed)
        super().__init__(", ".join(self.allowed))


def _segments(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


class Router(Generic[Target]):
    def __init__(self, routes: Sequence[Route[Target]]) -> None:
        self._routes = [(route, _segments(route.template)) for route in routes]

    def match(self, method: str, path: str) -> Match[Target] | None:
        """The route for the call; None when no path fits; MethodNotAllowed when only the
        method is wrong. A trailing slash is ignored."""
        segments = _segments(path)
        allowed: list[str] = []
        for route, pattern in self._routes:
            params = _capture(pattern, segments)
            if params is None:
                continue
            if route.method == method:
                return Match(route, params)
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(allowed)
        return None


def _capture(pattern: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    rest = next((i for i, part in enumerate(pattern) if part.endswith("...}")), None)
    if rest is not None:
        return _capture_rest(pattern, segments, rest)
    if len(pattern) != len(segments):
        return None
    return _capture_each(pattern, segments)


def _capture_rest(
    pattern: tuple[str, ...], segments: tuple[str, ...], rest: int
) -> dict[str, str] | None:
    """`/documents/{path...}/behaviour`: the fixed head and tail as usual, and the one or
    more segments between them joined back with `/`."""
    tail = len(pattern) - rest - 1
    if len(segments) < len(pattern):
        return None
    end = len(segments) - tail
    params = _capture_each(pattern[:rest] + pattern[rest + 1 :], segments[:rest] + segments[end:])
    if params is not None:
        params[pattern[rest][1:-4]] = "/".join(segments[rest:end])
    return params


def _capture_each(pattern: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{"):
            params[expected[1:-1]] = actual
        elif expected != actual:
            return None
    return params
