"""Structured logs: one JSON object per line, fiscal codes masked wherever they appear.

Every line says who wrote it: `replica` (the pod or host) and, while the process is a member
of a consumer group generation, `generation` and `member` (see group_identity.py).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from consumer.observability import group_identity
from consumer.observability.group_identity import GroupIdentity
from consumer.redact import mask, mask_fiscal_code

__all__ = ["JsonFormatter", "configure_logging", "mask", "mask_fiscal_code"]

# uvicorn adds `color_message`, the same text with terminal colours: noise in JSON.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",
}


def replica_name() -> str:
    """Which process wrote a line, so that several replicas' logs can be told apart: the
    pod's name under Kubernetes (HOSTNAME), else the host's."""
    return os.environ.get("HOSTNAME") or socket.gethostname()


class JsonFormatter(logging.Formatter):
    """`replica` on every line; `generation` and `member` on every line written while this
    process is a member of a group generation, and absent otherwise (before the first
    assignment, after leaving): a line without them was written outside the group. See
    group_identity.py for what the generation is and when it changes."""

    def __init__(
        self, identity: Callable[[], GroupIdentity | None] = group_identity.current
    ) -> None:
        super().__init__()
        self._replica = replica_name()
        self._identity = identity

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "replica": self._replica,
        }
        identity = self._identity()  # read once: the poll thread may swap it meanwhile
        if identity is not None:
            entry["generation"] = identity.generation
            entry["member"] = identity.member
        entry["message"] = record.getMessage()
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        line = {mask(name): _masked(value) for name, value in entry.items()}
        if identity is not None:
            # As the coordinator gave it (client.id, a UUID), never from an event; the mask's
            # fuzzy match would alter about one such id in 2,000, which then would not match
            # what the broker's tools show.
            line["member"] = identity.member
        return json.dumps(line, ensure_ascii=False)


def _masked(value: object) -> object:
    """Masked before encoding: in the encoded line, a code after a newline would follow the
    `n` of its escape and look like part of a longer token."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask(str(key)): _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask(str(value))


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
