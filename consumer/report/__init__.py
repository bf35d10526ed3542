"""Report: status records and dead letters, the two things io-relay writes to Kafka."""

from consumer.report.dlq import DeadLetter, dead_letter
from consumer.report.status import ErrorInfo, InputPosition, Outcome, StatusRecord

__all__ = ["DeadLetter", "ErrorInfo", "InputPosition", "Outcome", "StatusRecord", "dead_letter"]
