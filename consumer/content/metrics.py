"""What `io-relay content` exports: IO's requests, how long they took, how they ended.

Labels come from closed lists: two operations and the outcomes below. A message id, a
fiscal code or a document path is never a label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

Operation = Literal["details", "attachment", "other"]
Outcome = Literal[
    "ok",
    "unauthorized",  # 401: no key, or not one of content.api_keys
    "bad_request",  # 400: no fiscal_code header, or a malformed one
    "not_found",  # 404: an unknown id, another citizen's, an unknown attachment
    "gone",  # 404: the document is no longer at its source
    "unavailable",  # 503: a source or the content topic could not answer now
    "refused",  # 500: the source sent what io-relay will not relay (not a PDF, too big)
    "aborted",  # the bytes stopped mid-way (the source, or IO hanging up)
    "error",  # 500: a fault of io-relay's own, logged with its traceback
]
OPERATIONS: tuple[Operation, ...] = get_args(Operation)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

# Details answer in milliseconds; an attachment streams for up to the source's timeout.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 4.0, 8.0)


class ContentMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory: the content topic is held in it
        PlatformCollector(registry=self.registry)
        self._requests = Counter(
            "io_relay_content_requests",
            "IO's requests to the content server, by operation and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self._seconds = Histogram(
            "io_relay_content_request_seconds",
            "From a request's arrival to the last byte of its answer",
            ["operation"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self._bytes = Counter(
            "io_relay_content_attachment_bytes",
            "Attachment bytes relayed to IO",
            registry=self.registry,
        )
        self._remote = Gauge(
            "io_relay_content_remote_records",
            "Remote contents held from the content topic",
            registry=self.registry,
        )
        for operation in OPERATIONS:
            self._seconds.labels(operation)
            for outcome in OUTCOMES:
                self._requests.labels(operation, outcome)

    def answered(self, operation: Operation, outcome: Outcome, seconds: float) -> None:
        self._requests.labels(operation, outcome).inc()
        self._seconds.labels(operation).observe(seconds)

    def relayed(self, size: int) -> None:
        self._bytes.inc(size)

    def hold(self, count: Callable[[], int]) -> None:
        self._remote.set_function(count)
