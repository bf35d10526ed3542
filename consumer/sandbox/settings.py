"""Every knob of the sandbox in one frozen model, named like the `io-relay sandbox` options."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

_RATE_LIMIT = re.compile(r"^(\d+)/(\d+)s$")


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
