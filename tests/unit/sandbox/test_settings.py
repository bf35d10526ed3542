"""Settings and the rate-limit syntax the CLI hands over."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from consumer.sandbox import RateLimitPolicy, SandboxSettings
from consumer.sandbox.settings import FaultKind


@pytest.mark.parametrize(
    ("text", "calls", "period_s"),
    [("150/5s", 150, 5), ("250/5s", 250, 5), ("10/1s", 10, 1), (" 7/60S ", 7, 60)],
)
def test_parse_rate_limit(text: str, calls: int, period_s: int) -> None:
    assert RateLimitPolicy.parse(text) == RateLimitPolicy(calls=calls, period_s=period_s)


@pytest.mark.parametrize("text", ["off", "OFF", " off "])
def test_off_means_no_limit(text: str) -> None:
    assert RateLimitPolicy.parse(text) is None


@pytest.mark.parametrize("text", ["150", "150/5", "150/5m", "a/5s", "-1/5s", "1.5/5s", ""])
def test_malformed_rate_limit_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not CALLS/SECONDSs \(such as 150/5s\) or 'off'"):
        RateLimitPolicy.parse(text)


@pytest.mark.parametrize("text", ["0/5s", "5/0s"])
def test_zero_rate_limit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="at least 1 call and 1 second"):
        RateLimitPolicy.parse(text)


def test_policy_prints_as_it_is_written() -> None:
    assert str(RateLimitPolicy(calls=150, period_s=5)) == "150/5s"


def test_defaults_match_production_and_the_cli() -> None:
    settings = SandboxSettings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.profiles is None
    assert settings.rate_limit == RateLimitPolicy(calls=150, period_s=5)
    assert settings.latency_ms == 0
    assert settings.fault_rate == 0
    assert settings.faults == tuple(FaultKind)
    assert settings.slow_ms == 10_000
    assert settings.processing_delay_ms == 1_000
    assert settings.seed is None


def test_cli_strings_are_accepted() -> None:
    settings = SandboxSettings(rate_limit="off", faults="500, drop,500")
    assert settings.rate_limit is None
    assert settings.faults == (FaultKind.ERROR_500, FaultKind.DROP)

    assert SandboxSettings(rate_limit="10/1s").rate_limit == RateLimitPolicy(calls=10, period_s=1)


def test_settings_are_frozen() -> None:
    settings = SandboxSettings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fault_rate", 1.5),
        ("fault_rate", -0.1),
        ("faults", "500,teapot"),
        ("faults", ""),
        ("latency_ms", -1),
        ("port", 70_000),
        ("rate_limit", "fast"),
        ("colour", "blue"),
    ],
)
def test_bad_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        SandboxSettings(**{field: value})
