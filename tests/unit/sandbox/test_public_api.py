"""The package's public surface stays what the CLI and the fixtures rely on."""

from __future__ import annotations

import consumer.sandbox


def test_exported_names() -> None:
    assert set(consumer.sandbox.__all__) >= {
        "SandboxSettings",
        "RateLimitPolicy",
        "create_app",
        "serve",
    }
    for name in consumer.sandbox.__all__:
        assert hasattr(consumer.sandbox, name), name
