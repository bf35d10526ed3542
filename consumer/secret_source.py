"""Where a secret comes from: the config itself, an environment variable, or a mounted file.

One shape for every secret io-relay reads (IO subscription keys, the content server's API
keys and sealing keys, document sources' tokens), so operators write them all alike:

    key: ...          # the value itself (sandboxes, tests)
    key_env: VAR      # an environment variable
    key_file: /path   # a mounted secret
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from consumer.errors import ConfigurationError


class KeySource(BaseModel):
    """Exactly one of `key`, `key_env`, `key_file`; read when `secret()` is called."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    key: SecretStr | None = None
    key_env: str | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        given = [name for name in ("key", "key_env", "key_file") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of key, key_env, key_file")
        return self

    def secret(self) -> SecretStr:
        """The secret itself, read now from wherever it lives."""
        if self.key is not None:
            return self.key
        if self.key_env is not None:
            value = os.environ.get(self.key_env, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {self.key_env} is empty or unset")
            return SecretStr(value)
        assert self.key_file is not None
        try:
            value = self.key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read key file {self.key_file}: {exc}") from None
        if not value:
            raise ConfigurationError(f"key file {self.key_file} is empty")
        return SecretStr(value)
