"""Report: status records and dead letters, the two things io-relay writes to Kafka."""

from consumer.report.dlq import DeadLetter, dead_letter
from consumer.report.status import (
    DELIVERY_OUTCOMES,
    LIFECYCLE_OUTCOMES,
    ErrorInfo,
    InputPosition,
    Outcome,
    Stage,
    StatusRecord,
)

__all__ = [
    "DELIVERY_OUTCOMES",
    "LIFECYCLE_OUTCOMES",
    "DeadLetter",
    "ErrorInfo",
    "InputPosition",
    "Outcome",
    "Stage",
    "StatusRecord",
    "dead_letter",
]
