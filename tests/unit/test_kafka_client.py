"""consumer/kafka_client.py: which settings are secrets, and the text librdkafka gets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from consumer.kafka_client import is_secret, librdkafka_settings


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("sasl.password", True),
        ("sasl.username", True),  # librdkafka redacts it too
        ("ssl.key.location", True),
        ("ssl.ca.pem", True),
        ("sasl.oauthbearer.client.secret", True),
        ("sasl.oauthbearer.assertion.private.key.passphrase", True),
        ("sasl.oauthbearer.assertion.private.key.file", True),
        ("ssl.certificate.pem", False),  # a public certificate
        ("ssl.ca.location", False),
        ("security.protocol", False),
        ("session.timeout.ms", False),
    ],
)
def test_secrets_are_librdkafkas_sensitive_settings_and_those_named_so(
    name: str, secret: bool
) -> None:
    assert is_secret(name) is secret


def test_settings_become_librdkafka_text_with_the_secrets_held() -> None:
    settings = librdkafka_settings(
        {"sasl.password": "0777", "socket.keepalive.enable": True, "linger.ms": 5}
    )

    assert settings == {
        "sasl.password": settings["sasl.password"],
        "socket.keepalive.enable": "true",
        "linger.ms": "5",
    }
    password = settings["sasl.password"]
    assert isinstance(password, SecretStr)
    assert password.get_secret_value() == "0777"


@pytest.mark.parametrize("wrong", [511, 1.5, False, ["x"], {"a": "b"}, None])
def test_a_secret_that_is_not_a_string_is_refused_by_name(wrong: object) -> None:
    with pytest.raises(ValueError, match=r"^sasl\.password must be a string") as refused:
        librdkafka_settings({"sasl.password": wrong})
    assert str(wrong) not in str(refused.value)
