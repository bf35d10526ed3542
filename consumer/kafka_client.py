"""`kafka.client`, as librdkafka takes it: strings only, and its secrets held as secrets.

YAML hands over numbers and booleans where librdkafka wants their text; a secret must arrive
as written, so it must be a string. Which settings are secrets is librdkafka's own list, and
any setting whose name says it is one.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr


def librdkafka_settings(value: Mapping[object, object]) -> dict[str, str | SecretStr]:
    """Each setting as librdkafka's text, the secret ones as SecretStr; ValueError naming
    (never showing) a value of the wrong shape."""
    settings: dict[str, str | SecretStr] = {}
    for name, setting in value.items():
        text = _librdkafka_value(str(name), setting)
        settings[str(name)] = SecretStr(text) if is_secret(str(name)) else text
    return settings


def _librdkafka_value(name: str, setting: object) -> str:
    if isinstance(setting, SecretStr):
        return setting.get_secret_value()
    if is_secret(name) and not isinstance(setting, str):
        # YAML reads an unquoted 0777 as 511 and 1.50 as 1.5: a password would change.
        raise ValueError(f"{name} must be a string: quote it in YAML")
    if isinstance(setting, bool):
        return "true" if setting else "false"
    if isinstance(setting, str | int | float):
        return str(setting)
    # Never the value itself: this may be a password given the wrong shape.
    raise ValueError(f"{name} must be a string, a number or true/false")


# What librdkafka itself flags as sensitive (_RK_SENSITIVE in rdkafka_conf.c) and redacts
# from its own dumps; is_secret also takes any later setting whose name says it is one.
_LIBRDKAFKA_SENSITIVE = frozenset(
    {
        "sasl.username",
        "sasl.password",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.client.secret",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.key.pem",
        "ssl.ca.pem",
        "ssl.keystore.password",
    }
)
_SECRET_WORDS = ("password", "secret", "passphrase", "private.key")


def is_secret(name: str) -> bool:
    """Held as SecretStr: never in a repr, a dump or an error."""
    return (
        name in _LIBRDKAFKA_SENSITIVE
        or any(word in name for word in _SECRET_WORDS)
        or (name.endswith(".pem") and name != "ssl.certificate.pem")
    )
