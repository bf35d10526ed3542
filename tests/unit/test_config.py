from pathlib import Path

import pytest
from pydantic import ValidationError

from consumer.config import (
    ObservabilitySettings,
    RuntimeSettings,
    Settings,
    TrackingSettings,
    load_settings,
)
from consumer.errors import ConfigurationError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"


def test_example_config_loads_with_rules_relative_to_the_file() -> None:
    settings = load_settings(EXAMPLE)

    assert settings.kafka.input_topics == ["demo.events"]
    assert settings.io.services["tari"].account == "comune-demo"
    assert settings.rules.paths == [
        EXAMPLE.parent / "rules/payments.yaml",
        EXAMPLE.parent / "premium",
    ]
    assert settings.content.enabled
    assert settings.content.key_ring().recipient("AAAAAA00A00A000A")


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


# --- observability ---------------------------------------------------------------------------


def test_observability_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "LOG_LEVEL", "LAG_INTERVAL_S"):
        monkeypatch.delenv(f"IO_RELAY_OBSERVABILITY__{name}", raising=False)

    observability = load_settings().observability

    assert observability == ObservabilitySettings(
        host="0.0.0.0", port=9400, log_level="INFO", lag_interval_s=10.0
    )


@pytest.mark.parametrize("port", [0, 1, 9400, 65535])
def test_observability_port_takes_0_for_no_server_up_to_65535(port: int) -> None:
    assert ObservabilitySettings(port=port).port == port


@pytest.mark.parametrize("port", [-1, 65536])
def test_observability_port_outside_0_65535_is_refused(port: int) -> None:
    with pytest.raises(ValidationError, match="port"):
        ObservabilitySettings(port=port)


@pytest.mark.parametrize(
    ("given", "level"),
    [("debug", "DEBUG"), ("Info", "INFO"), ("WARNING", "WARNING"), ("error", "ERROR")],
)
def test_log_level_is_upper_cased(given: str, level: str) -> None:
    assert ObservabilitySettings.model_validate({"log_level": given}).log_level == level


@pytest.mark.parametrize("given", ["trace", "CRITICAL", "warn", ""])
def test_log_level_is_one_of_four(given: str) -> None:
    with pytest.raises(ValidationError, match="log_level"):
        ObservabilitySettings.model_validate({"log_level": given})


@pytest.mark.parametrize("interval", [0, -1.5])
def test_lag_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValidationError, match="lag_interval_s"):
        ObservabilitySettings(lag_interval_s=interval)


def test_observability_section_is_read_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "observability: {host: 127.0.0.1, port: 0, log_level: warning, lag_interval_s: 2.5}\n"
    )

    observability = load_settings(config).observability

    assert observability == ObservabilitySettings(
        host="127.0.0.1", port=0, log_level="WARNING", lag_interval_s=2.5
    )


def test_environment_overrides_the_observability_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("observability: {host: 127.0.0.1, port: 9401, log_level: debug}\n")
    monkeypatch.setenv("IO_RELAY_OBSERVABILITY__PORT", "9500")

    observability = load_settings(config).observability

    assert observability.port == 9500
    assert (observability.host, observability.log_level) == ("127.0.0.1", "DEBUG")


@pytest.mark.parametrize("port", ["ninety-four-hundred", "70000"])
def test_an_invalid_observability_port_names_the_setting_and_its_variable(
    monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    monkeypatch.setenv("IO_RELAY_OBSERVABILITY__PORT", port)

    with pytest.raises(ConfigurationError) as caught:
        load_settings(EXAMPLE)

    message = str(caught.value)
    assert "observability.port" in message
    assert "IO_RELAY_OBSERVABILITY__PORT" in message


def test_default_checks_take_at_most_a_quarter_of_the_room_for_events() -> None:
    settings = Settings()

    assert settings.tracking.max_checks_in_flight <= settings.runtime.max_in_flight // 4


@pytest.mark.parametrize(
    ("max_in_flight", "max_checks"), [(64, 16), (256, 64), (4, 1), (3, 1), (1, 1)]
)
def test_checks_up_to_a_quarter_of_max_in_flight_are_accepted(
    max_in_flight: int, max_checks: int
) -> None:
    settings = Settings(
        runtime=RuntimeSettings(max_in_flight=max_in_flight),
        tracking=TrackingSettings(max_checks_in_flight=max_checks),
    )

    assert settings.tracking.max_checks_in_flight == max_checks


def test_more_checks_than_a_quarter_of_max_in_flight_are_refused_in_plain_words(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("runtime: {max_in_flight: 64}\ntracking: {max_checks_in_flight: 17}\n")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)

    lines = str(caught.value).splitlines()
    assert lines[1:] == [
        "  tracking.max_checks_in_flight (17) may be at most a quarter of "
        "runtime.max_in_flight (64): checks share the room events need"
    ]


def test_the_share_of_checks_is_checked_after_the_environment_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IO_RELAY_RUNTIME__MAX_IN_FLIGHT", "32")

    with pytest.raises(ConfigurationError, match=r"max_checks_in_flight \(16\)"):
        load_settings(EXAMPLE)


def test_without_tracking_any_number_of_checks_is_accepted() -> None:
    settings = Settings(
        runtime=RuntimeSettings(max_in_flight=8),
        tracking=TrackingSettings(enabled=False, max_checks_in_flight=100),
    )

    assert not settings.tracking.enabled


@pytest.mark.parametrize(
    "name",
    [
        "sasl.username",
        "sasl.password",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.assertion.private.key.passphrase",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.key.pem",
        "ssl.ca.pem",
    ],
)
def test_secret_kafka_client_settings_never_print(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(f"IO_RELAY_KAFKA__CLIENT__{name.upper()}", "kafka-secret-value")

    settings = Settings()

    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "kafka-secret-value" not in shown
    assert settings.kafka.librdkafka()[name] == "kafka-secret-value"


def test_plain_kafka_client_settings_stay_plain() -> None:
    settings = Settings(
        kafka={"client": {"security.protocol": "SASL_SSL", "ssl.ca.location": "/ca"}}
    )

    assert settings.kafka.client == {"security.protocol": "SASL_SSL", "ssl.ca.location": "/ca"}


def test_kafka_client_numbers_and_booleans_become_librdkafka_strings(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "kafka: {client: {session.timeout.ms: 30000, enable.ssl.certificate.verification: true,"
        " socket.keepalive.enable: false}}\n"
    )

    settings = load_settings(config)

    assert settings.kafka.librdkafka() == {
        "session.timeout.ms": "30000",
        "enable.ssl.certificate.verification": "true",
        "socket.keepalive.enable": "false",
    }


@pytest.mark.parametrize("unquoted", ["0777", "1.50", "0x1F", "1_000", "true"])
def test_an_unquoted_yaml_secret_is_refused_rather_than_changed(
    tmp_path: Path, unquoted: str
) -> None:
    """YAML would hand over 511 for 0777, 1.5 for 1.50: not the password that was written."""
    config = tmp_path / "config.yaml"
    config.write_text(f"kafka: {{client: {{sasl.password: {unquoted}}}}}\n")

    with pytest.raises(ConfigurationError) as refused:
        load_settings(config)

    assert "sasl.password must be a string: quote it in YAML" in str(refused.value)
    config.write_text(f"kafka: {{client: {{sasl.password: '{unquoted}'}}}}\n")
    assert load_settings(config).kafka.librdkafka() == {"sasl.password": unquoted}


def test_a_kafka_client_secret_of_the_wrong_shape_is_named_never_shown(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("kafka: {client: {sasl.password: [kafka-secret-value]}}\n")

    with pytest.raises(ConfigurationError) as refused:
        load_settings(config)

    assert "sasl.password must be a string" in str(refused.value)
    assert "kafka-secret-value" not in str(refused.value)


def test_the_rules_mapping_takes_link_hosts_and_the_list_form_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("rules: [rules/]\n")
    monkeypatch.setenv("IO_RELAY_RULES__ALLOWED_LINK_HOSTS", '["comune.example.it"]')

    settings = load_settings(config)

    assert settings.rules.paths == [tmp_path / "rules"]
    assert settings.rules.allowed_link_hosts == ["comune.example.it"]


@pytest.mark.parametrize("host", ["https://comune.it", "Comune.IT", "comune.it/path", "a b"])
def test_an_allowed_link_host_must_be_a_host_name(host: str) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        Settings(rules={"allowed_link_hosts": [host]})


@pytest.mark.parametrize("host", ["*.it", "*.example"])
def test_an_allowed_link_host_cannot_be_a_whole_top_level_domain(host: str) -> None:
    with pytest.raises(ValueError, match="would trust a whole top-level domain"):
        Settings(rules={"allowed_link_hosts": [host]})
    assert Settings(rules={"allowed_link_hosts": ["*.comune.it"]}).rules.allowed_link_hosts
