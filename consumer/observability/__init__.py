"""Logs, and later metrics and health: how operators see io-relay."""

from consumer.observability.logging import configure_logging, mask, mask_fiscal_code

__all__ = ["configure_logging", "mask", "mask_fiscal_code"]
