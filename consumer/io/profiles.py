"""A short, bounded memory of profile checks, so fan-out and repeated events for one citizen
cost one call.

Only answers that say something about the citizen are kept (a profile, or no profile);
a refusal or a transient failure is not. Concurrent checks of one (service, citizen) share
one call. The TTL is short because a citizen may block a service, or install IO, at any time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cachetools import TTLCache

from consumer.io.outcomes import Profile, ProfileNotFound, ProfileOutcome

_Key = tuple[str, str]


class ProfileCache:
    def __init__(self, ttl_s: float = 60.0, max_entries: int = 10_000) -> None:
        self._answers: TTLCache[_Key, Profile | ProfileNotFound] = TTLCache(max_entries, ttl_s)
        self._pending: dict[_Key, asyncio.Task[ProfileOutcome]] = {}

    async def get(
        self, service: str, fiscal_code: str, check: Callable[[], Awaitable[ProfileOutcome]]
    ) -> tuple[ProfileOutcome, bool]:
        """The profile, and whether it came from memory (no call made)."""
        key = (service, fiscal_code)
        known = self._answers.get(key)
        if known is not None:
            return known, True
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        # The call runs in its own task: an asker cancelled while waiting for it (its event
        # abandoned) must not cancel the call the other askers wait for.
        call = asyncio.create_task(self._remember(key, check))
        self._pending[key] = call
        return await asyncio.shield(call), False

    async def _remember(
        self, key: _Key, check: Callable[[], Awaitable[ProfileOutcome]]
    ) -> ProfileOutcome:
        try:
            outcome = await check()
        finally:
            del self._pending[key]
        if isinstance(outcome, Profile | ProfileNotFound):
            self._answers[key] = outcome
        return outcome
