"""`python -m consumer.sandbox`: options map to settings, bad ones stop it with a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.sandbox import RateLimitPolicy, SandboxSettings, __main__
from consumer.sandbox.settings import FaultKind


def test_options_become_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: list[SandboxSettings] = []
    monkeypatch.setattr(__main__, "serve", served.append)
    profiles = tmp_path / "p.yaml"

    code = __main__.main(
        [
            "--host=0.0.0.0",
            "--port=9000",
            f"--profiles={profiles}",
            "--rate-limit=250/5s",
            "--latency-ms=20",
            "--fault-rate=0.25",
            "--faults=503,slow",
            "--slow-ms=300",
            "--processing-delay-ms=50",
            "--seed=4",
        ]
    )

    assert code == 0
    assert served == [
        SandboxSettings(
            host="0.0.0.0",
            port=9000,
            profiles=profiles,
            rate_limit=RateLimitPolicy(calls=250, period_s=5),
            latency_ms=20,
            fault_rate=0.25,
            faults=(FaultKind.ERROR_503, FaultKind.SLOW),
            slow_ms=300,
            processing_delay_ms=50,
            seed=4,
        )
    ]


def test_defaults_are_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[SandboxSettings] = []
    monkeypatch.setattr(__main__, "serve", served.append)
    assert __main__.main([]) == 0
    assert served == [SandboxSettings()]


def test_bad_rate_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        __main__.main(["--rate-limit", "lots"])
    assert exited.value.code == 2
    assert "rate limit 'lots' is not CALLS/SECONDSs" in capsys.readouterr().err


def test_bad_setting_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert __main__.main(["--fault-rate", "2"]) == 2
    assert "fault_rate" in capsys.readouterr().err


def test_bad_profiles_file_exits_2_naming_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = tmp_path / "p.yaml"
    profiles.write_text("AAAAAA00A00A000A: {sender_allowed: maybe}\n")

    assert __main__.main(["--profiles", str(profiles)]) == 2
    err = capsys.readouterr().err
    assert "profiles.AAAAAA00A00A000A.sender_allowed" in err
