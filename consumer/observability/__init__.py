"""How operators see io-relay: logs, metrics, and the health and readiness probes."""

from consumer.observability.health import readiness_problems
from consumer.observability.logging import configure_logging, mask, mask_fiscal_code
from consumer.observability.metrics import Metrics
from consumer.observability.server import OperationsServer, operations_app

__all__ = [
    "Metrics",
    "OperationsServer",
    "configure_logging",
    "mask",
    "mask_fiscal_code",
    "operations_app",
    "readiness_problems",
]
