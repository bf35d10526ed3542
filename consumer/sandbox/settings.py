"""Every knob of the sandbox in one frozen model, named like the `io-relay sandbox` options."""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_RATE_LIMIT = re.compile(r"^(\d+)/(\d+)s$")
IO_API_DIR_ENV = "IO_RELAY_IO_API_DIR"
DOCUMENT_BEARER_DEFAULT = "sandbox-document-token"
"""Well known on purpose: the sandbox guards nothing secret."""
APP_OPEN_BUDGET_MS = 8_000
"""How long the IO app waits for a message's details and attachments together."""


def default_io_api_dir() -> Path:
    """IO's spec copies: $IO_RELAY_IO_API_DIR, else `shared/io-api` beside the repository."""
    configured = os.environ.get(IO_API_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "io-api"


class RateLimitPolicy(BaseModel):
    """A gateway policy: at most `calls` per `period_s` seconds for one account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: Annotated[int, Field(gt=0)]
    period_s: Annotated[int, Field(gt=0)]

    @classmethod
    def parse(cls, text: str) -> Self | None:
        """`150/5s` → 150 calls per 5 seconds; `off` → None (no limit)."""
        cleaned = text.strip().lower()
        if cleaned == "off":
            return None
        match = _RATE_LIMIT.match(cleaned)
        if match is None:
            raise ValueError(f"rate limit {text!r} is not CALLS/SECONDSs (such as 150/5s) or 'off'")
        calls, period_s = int(match[1]), int(match[2])
        if calls == 0 or period_s == 0:
            raise ValueError(f"rate limit {text!r} needs at least 1 call and 1 second")
        return cls(calls=calls, period_s=period_s)

    def __str__(self) -> str:
        return f"{self.calls}/{self.period_s}s"


class FaultKind(StrEnum):
    """What an injected fault does to a call."""

    ERROR_500 = "500"
    ERROR_503 = "503"
    SLOW = "slow"
    DROP = "drop"


ALL_FAULT_KINDS = tuple(FaultKind)
PRODUCTION_RATE_LIMIT = RateLimitPolicy(calls=150, period_s=5)


class SandboxSettings(BaseModel):
    """How one sandbox behaves. Strings are accepted where a CLI hands them over as typed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65_535)] = 8080
    profiles: Path | None = None
    rate_limit: RateLimitPolicy | None = PRODUCTION_RATE_LIMIT
    latency_ms: Annotated[int, Field(ge=0)] = 0
    fault_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    faults: Annotated[tuple[FaultKind, ...], Field(min_length=1)] = ALL_FAULT_KINDS
    slow_ms: Annotated[int, Field(ge=0)] = 10_000
    processing_delay_ms: Annotated[int, Field(ge=0)] = 1_000
    seed: int | None = None
    document_token: SecretStr = SecretStr(DOCUMENT_BEARER_DEFAULT)
    """The bearer token the document store stand-in (`GET /documents/...`) asks for."""
    io_api_dir: Path | None = Field(default_factory=default_io_api_dir)
    """Where IO's specs are (the open replay validates against api-third-party.yaml)."""
    open_budget_ms: Annotated[int, Field(gt=0)] = APP_OPEN_BUDGET_MS

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: Any) -> Any:
        return RateLimitPolicy.parse(value) if isinstance(value, str) else value

    @field_validator("faults", mode="before")
    @classmethod
    def _parse_faults(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(dict.fromkeys(value))  # without repeats, in the order given
        return value
