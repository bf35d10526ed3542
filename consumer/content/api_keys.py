"""The key IO's backend presents to the content server, checked in constant time.

IO caches a remote-content configuration for 8 hours, so a rotation needs an overlap: the
new key and the old one are both valid until IO has surely picked up the new one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from pydantic import SecretStr


class ApiKeys:
    def __init__(self, keys: Sequence[SecretStr]) -> None:
        if not keys:
            raise ValueError("the content server needs at least one API key")
        if not all(key.get_secret_value() for key in keys):
            raise ValueError("a content server API key is empty")
        # Digests, all of one length: comparing them tells nothing of a key's length either.
        self._keys = [_digest(key.get_secret_value()) for key in keys]

    def accepts(self, presented: str | None) -> bool:
        """Whether `presented` is one of the keys. Every key is compared, whatever matched,
        so the time taken tells nothing about which key, or how much of one, was right."""
        offered = _digest(presented or "")
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(offered, key)
        return matched


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
