"""The key IO's backend presents to the content server, checked in constant time.

IO caches a remote-content configuration for 8 hours, so a rotation needs an overlap: the
new key and the old one are both valid until IO has surely picked up the new one.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from pydantic import SecretStr


class ApiKeys:
    def __init__(self, keys: Sequence[SecretStr]) -> None:
        if not keys:
            raise ValueError("the content server needs at least one API key")
        self._keys = [key.get_secret_value().encode() for key in keys]
        if not all(self._keys):
            raise ValueError("a content server API key is empty")

    def accepts(self, presented: str | None) -> bool:
        """Whether `presented` is one of the keys. Every key is compared, whatever matched,
        so the time taken tells nothing about which key, or how much of one, was right."""
        offered = (presented or "").encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(offered, key)
        return matched
