"""The Premium options of `python -m consumer.sandbox` and where IO's specs are looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.sandbox import SandboxSettings, __main__
from consumer.sandbox.settings import IO_API_DIR_ENV


def served_by(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> SandboxSettings:
    served: list[SandboxSettings] = []
    monkeypatch.setattr(__main__, "serve", served.append)
    assert __main__.main(argv) == 0
    (settings,) = served
    return settings


def test_premium_options_become_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = served_by(
        ["--document-token=t0k", f"--io-api-dir={tmp_path}", "--open-budget-ms=500"], monkeypatch
    )

    assert settings.document_token.get_secret_value() == "t0k"
    assert settings.io_api_dir == tmp_path
    assert settings.open_budget_ms == 500


def test_spec_folder_comes_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(IO_API_DIR_ENV, str(tmp_path))
    assert served_by([], monkeypatch).io_api_dir == tmp_path


def test_spec_folder_defaults_to_shared_io_api_beside_the_repository(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(IO_API_DIR_ENV, raising=False)
    repository = Path(__file__).resolve().parents[3]
    assert SandboxSettings().io_api_dir == repository.parent / "shared" / "io-api"


def test_document_token_is_kept_secret() -> None:
    assert "sandbox-document-token" not in repr(SandboxSettings())
