"""The io-relay command line: exit codes and what reaches stdout and stderr."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from consumer import cli as cli_module
from consumer.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RULES = str(EXAMPLES / "rules")


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["sandbox"], ["rules"], ["rules", "check"], ["render"], ["schemas"], ["preview"]],
)
def test_every_command_has_help(cli: CliRunner, command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--help"])

    assert result.exit_code == 0
    assert "Usage" in result.output


def test_rules_check_passes_the_examples(cli: CliRunner) -> None:
    result = cli.invoke(app, ["rules", "check", RULES])

    assert result.exit_code == 0
    assert "3 rules OK" in result.stdout


def test_rules_check_lists_every_problem_and_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n  - name: b\n")

    result = cli.invoke(app, ["rules", "check", RULES, str(bad)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count(f"{bad}:") == 8  # four required fields missing in each rule


def test_render_prints_the_exact_request_bodies(cli: CliRunner) -> None:
    event = str(EXAMPLES / "events" / "01-tari-notice.json")

    result = cli.invoke(app, ["render", "--rules", RULES, "--event", event])

    assert result.exit_code == 0, result.stderr
    [output] = json.loads(result.stdout)
    assert (output["rule"], output["service"]) == ("tari-notice", "tari")
    assert output["payload"]["fiscal_code"] == "AAAAAA00A00A000A"
    assert output["payload"]["content"]["payment_data"]["amount"] == 18750
    assert output["payload"]["content"]["due_date"] == "2027-03-31T21:59:59.000Z"


def test_render_in_a_language(cli: CliRunner) -> None:
    event = str(EXAMPLES / "events" / "02-notice-with-payee.json")

    result = cli.invoke(app, ["render", "--rules", RULES, "--event", event, "--lang", "de_DE"])

    assert json.loads(result.stdout)[0]["payload"]["content"]["subject"] == (
        "Neue Zahlungsaufforderung"
    )


def test_render_prints_an_empty_array_when_no_rule_matches(cli: CliRunner) -> None:
    event = str(EXAMPLES / "events" / "06-internal-document.json")

    result = cli.invoke(app, ["render", "--rules", RULES, "--event", event])

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("07-zero-amount.json", "data.amount_cents: Input should be greater than 0"),
        ("08-truncated.json", "value: is not JSON"),
        ("missing.json", "cannot read"),
    ],
)
def test_render_refuses_an_invalid_event_on_stderr(
    cli: CliRunner, event: str, message: str
) -> None:
    result = cli.invoke(
        app, ["render", "--rules", RULES, "--event", str(EXAMPLES / "events" / event)]
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr


def test_schemas_check_passes_and_reports_drift(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(app, ["schemas", str(EXAMPLES.parent / "schemas")]).exit_code == 0

    drifted = cli.invoke(app, ["schemas", str(tmp_path)])

    assert drifted.exit_code == 1
    assert "differs from the models" in drifted.stderr


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [
        (["rules", "check", RULES], 2),
        (
            [
                "render",
                "--rules",
                RULES,
                "--event",
                str(EXAMPLES / "events" / "01-tari-notice.json"),
            ],
            1,
        ),
    ],
)
def test_a_wrong_environment_is_named_without_its_secrets(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str], exit_code: int
) -> None:
    monkeypatch.setenv(
        "IO_RELAY_KAFKA__CLIENT", '{"sasl.password": "kafka-secret-value", "linger.ms": []}'
    )

    result = cli.invoke(app, command)

    assert result.exit_code == exit_code
    assert "linger.ms must be a string, a number or true/false" in result.output
    assert "kafka-secret-value" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unforeseen_fault_is_one_masked_log_line_and_exit_2(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not Python's bare traceback (exit 1), which would print the fiscal code as it is."""
    monkeypatch.setattr(cli_module, "load_settings", lambda config: object())

    async def work(settings: object) -> None:
        raise RuntimeError("stuck on RSSMRA85T10A562S")

    with pytest.raises(typer.Exit) as stopped:
        cli_module._until_stopped("io-relay run", None, "INFO", work)

    assert stopped.value.exit_code == 2
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    assert [line["message"] for line in lines] == ["io-relay run stopped on an unexpected fault"]
    assert "RuntimeError: stuck on" in lines[0]["error"]
    assert "RSSMRA85T10A562S" not in json.dumps(lines)
