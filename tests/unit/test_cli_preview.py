"""`io-relay preview` and `rules check --preview`: the pages written, and what is said."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consumer.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RULES = str(EXAMPLES / "rules")
TARI = str(EXAMPLES / "events" / "01-tari-notice.json")


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_preview_writes_a_page_per_message_and_says_where(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = cli.invoke(app, ["preview", "--rules", RULES, "--event", TARI, "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        str(out / "tari-notice.it_IT.html"),
        f"index: {out / 'index.html'}",
    ]
    assert "Scade il 31 marzo 2027" in (out / "tari-notice.it_IT.html").read_text()


def test_preview_in_a_language(cli: CliRunner, tmp_path: Path) -> None:
    event = tmp_path / "osap.json"
    event.write_text(Path(TARI).read_text().replace('"TARI"', '"OSAP"'))

    result = cli.invoke(
        app,
        [
            "preview",
            "--rules",
            RULES,
            "--event",
            str(event),
            "--lang",
            "de_DE",
            "--out",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "Neue Zahlungsaufforderung" in (tmp_path / "generic-notice.de_DE.html").read_text()


def test_preview_of_an_event_no_rule_sends_says_so(cli: CliRunner, tmp_path: Path) -> None:
    internal = str(EXAMPLES / "events" / "06-internal-document.json")

    result = cli.invoke(
        app, ["preview", "--rules", RULES, "--event", internal, "--out", str(tmp_path)]
    )

    assert result.exit_code == 0
    assert "no rule sends a message for this event" in result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["index.html"]


def test_preview_refuses_an_invalid_event_and_writes_nothing(
    cli: CliRunner, tmp_path: Path
) -> None:
    truncated = str(EXAMPLES / "events" / "08-truncated.json")
    out = tmp_path / "out"

    result = cli.invoke(app, ["preview", "--rules", RULES, "--event", truncated, "--out", str(out)])

    assert result.exit_code == 1
    assert result.stderr.startswith("io-relay preview: ")
    assert not out.exists()


def test_png_without_chromium_says_what_to_install_before_any_work(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    out = tmp_path / "out"

    result = cli.invoke(
        app, ["preview", "--rules", RULES, "--event", TARI, "--out", str(out), "--png"]
    )

    assert result.exit_code == 2
    assert "apt-get install chromium" in result.stderr
    assert not out.exists()


def test_rules_check_previews_every_example_in_every_language(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["rules", "check", RULES, "--preview", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[0] == "3 rules OK: document-ready, tari-notice, generic-notice"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "document-ready.it_IT.html",
        "generic-notice.de_DE.html",
        "generic-notice.it_IT.html",
        "index.html",
        "tari-notice.it_IT.html",
    ]


def test_preview_of_several_events_names_pages_apart_and_reports_the_bad_one(
    cli: CliRunner, tmp_path: Path
) -> None:
    """The binary-mode file is read as the demo produces it; the truncated one is named, and
    the others are still written."""
    events = [
        EXAMPLES / "events" / name for name in ("01-tari-notice.json", "04-no-io-profile.json")
    ]
    events += [EXAMPLES / "events" / "03-document-ready.binary.json"]
    events += [EXAMPLES / "events" / "08-truncated.json"]
    arguments = [argument for path in events for argument in ("--event", str(path))]

    result = cli.invoke(app, ["preview", "--rules", RULES, *arguments, "--out", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"io-relay preview: {events[3]}: ")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "demo-0001.tari-notice.it_IT.html",
        "demo-0004.tari-notice.it_IT.html",
        "document-ready.it_IT.html",
        "index.html",
    ]


def test_preview_takes_the_configurations_rules_by_default(cli: CliRunner, tmp_path: Path) -> None:
    premium = str(EXAMPLES / "events" / "03-document-ready.binary.json")
    config = str(EXAMPLES / "config.yaml")

    result = cli.invoke(app, ["preview", "-c", config, "--event", premium, "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "Certificato di residenza.pdf" in (tmp_path / "document-ready.it_IT.html").read_text()


def test_rules_check_refuses_png_without_preview(cli: CliRunner) -> None:
    result = cli.invoke(app, ["rules", "check", RULES, "--png"])

    assert result.exit_code == 2
    assert "give --preview DIR too" in result.output
