from pathlib import Path

import pytest

from consumer.config import load_settings
from consumer.errors import ConfigurationError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"


def test_example_config_loads_with_rules_relative_to_the_file() -> None:
    settings = load_settings(EXAMPLE)

    assert settings.kafka.input_topics == ["demo.events"]
    assert settings.io.services["tari"].account == "comune-demo"
    assert settings.rules == [EXAMPLE.parent / "rules"]


def test_environment_overrides_one_key_of_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IO_RELAY_KAFKA__BOOTSTRAP_SERVERS", "broker:29092")

    settings = load_settings(EXAMPLE)

    assert settings.kafka.bootstrap_servers == "broker:29092"
    assert settings.kafka.group_id == "io-relay-demo"  # the rest still from the file


def test_subscription_key_never_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARI_KEY", "s3cr3t-value")
    monkeypatch.setenv("IO_RELAY_IO__SERVICES__TARI__KEY_ENV", "TARI_KEY")
    monkeypatch.setenv("IO_RELAY_IO__SERVICES__TARI__ACCOUNT", "default")

    settings = load_settings()
    key = settings.io.services["tari"].subscription_key()

    assert key.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings) + str(key) + repr(key)


def test_errors_name_the_setting_and_its_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "kafka: {input_topics: []}\n"
        "io: {services: {tari: {account: nowhere, key: k}}}\n"
        "runtime: {commit_interval_s: -1}\n"
    )

    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)

    message = str(caught.value)
    assert "kafka.input_topics" in message
    assert "IO_RELAY_KAFKA__INPUT_TOPICS" in message
    assert "account 'nowhere'" in message
    assert "runtime.commit_interval_s" in message


def test_reserved_kafka_settings_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("kafka: {client: {enable.auto.commit: 'true'}}\n")

    with pytest.raises(ConfigurationError, match=r"enable\.auto\.commit cannot be set"):
        load_settings(config)


def test_unreadable_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read config file"):
        load_settings(tmp_path / "missing.yaml")


def test_missing_key_variable_is_reported_when_the_key_is_read() -> None:
    settings = (
        load_settings(EXAMPLE)
        .io.services["tari"]
        .model_copy(update={"key": None, "key_env": "IO_RELAY_TEST_SURELY_UNSET"})
    )

    with pytest.raises(ConfigurationError, match="IO_RELAY_TEST_SURELY_UNSET"):
        settings.subscription_key()
