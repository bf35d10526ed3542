"""Structured logs: one JSON object per line, fiscal codes masked wherever they appear."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from consumer.io.models import FISCAL_CODE_PATTERN

_FISCAL_CODE = re.compile(FISCAL_CODE_PATTERN.strip("^$"))
# uvicorn adds `color_message`, the same text with terminal colours: noise in JSON.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",
}


def mask_fiscal_code(code: str) -> str:
    """Enough to tell two citizens apart in an incident, not enough to identify one."""
    return f"{code[:3]}{'*' * 10}{code[-3:]}"


def mask(text: str) -> str:
    return _FISCAL_CODE.sub(lambda match: mask_fiscal_code(match.group(0)), text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
