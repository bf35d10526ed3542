"""The `history:` section: where `io-relay history` keeps the status topic, queryable.

Without `dsn` there is no database: `io-relay status` then scans a bounded stretch of the
status topic instead. The DSN is a secret (it may carry a password), so it never prints.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

TABLE_PATTERN = r"^[a-z_][a-z0-9_]{0,47}$"
"""A plain, unquoted SQL identifier, short enough for the index names made from it (63)."""


class HistorySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    dsn: SecretStr | None = Field(
        default=None,
        description="libpq URI or key=value DSN of the PostgreSQL database (null: no "
        "history; `io-relay status` scans the status topic)",
    )
    table: Annotated[str, Field(pattern=TABLE_PATTERN)] = Field(
        default="io_relay_status",
        description="the table the status records go to (created if missing)",
    )
    connect_timeout_s: Annotated[int, Field(ge=1, le=300)] = Field(
        default=10, description="how long a connection attempt may take"
    )
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=500, description="status records written per transaction, at most"
    )

    @property
    def enabled(self) -> bool:
        return self.dsn is not None
