"""The broker probe: every `interval_s`, the owned partitions' watermarks, for the lag
(high watermark minus the done prefix) and for readiness (does the broker answer at all).

Tracking partitions have no lag figure: their records wait on purpose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress

from consumer.runtime.commit import TopicPartition
from consumer.runtime.observer import RuntimeObserver
from consumer.runtime.source import Source

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


class BrokerProbe:
    def __init__(
        self,
        source: Callable[[], Source],
        observer: RuntimeObserver,
        interval_s: float,
        position: Callable[[TopicPartition], int],
        lagless: Callable[[TopicPartition], bool],
    ) -> None:
        """`position`: where a partition's done prefix stands (-1: unknown); `lagless`: a
        partition whose records wait on purpose."""
        self._source = source
        self._observer = observer
        self._interval_s = interval_s
        self._position = position
        self._lagless = lagless
        self._probed_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._reachable: bool | None = None
        self._answered_at: float | None = None

    def reachable(self) -> bool | None:
        """As of the last probe, unless even that is overdue (a probe stuck is no answer);
        None until the first probe."""
        if self._reachable is None or self._answered_at is None:
            return self._reachable
        overdue = 2 * self._interval_s + PROBE_TIMEOUT_S
        return self._reachable and time.monotonic() - self._answered_at <= overdue

    def maybe_start(self) -> None:
        """Checked every turn of the loop: the clock first, the assignment (a copy) last. In
        the background: a silent broker takes seconds to be found silent."""
        if self._probed_at is not None and time.monotonic() - self._probed_at < self._interval_s:
            return
        if self._task is not None and not self._task.done():
            return
        if not self._source().assigned:
            return
        self._probed_at = time.monotonic()
        self._task = asyncio.create_task(self._probe(), name="broker-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _probe(self) -> None:
        source = self._source()
        # Every owned partition is asked (a replica may own tracking partitions only, and must
        # still know whether the broker answers); only input partitions have a lag.
        marks = await source.watermarks(set(source.assigned), PROBE_TIMEOUT_S)
        if (marks is not None) != self._reachable:
            if marks is None:
                log.warning("broker probe: no answer (readiness fails until it answers)")
            elif self._reachable is not None:
                log.info("broker probe: answering again")
        self._reachable = marks is not None
        if marks is None:
            self._observer.broker_probed(None)
            return
        self._answered_at = time.monotonic()
        lag: dict[TopicPartition, int] = {}
        for partition, (low, high) in marks.items():
            if partition not in source.assigned or self._lagless(partition):
                continue  # revoked while the broker answered, or records waiting on purpose
            lag[partition] = max(0, high - max(self._position(partition), low))
        self._observer.broker_probed(lag)
