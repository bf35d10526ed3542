"""The consumer runtime: source, processing, reporting and commits, wired together."""

from consumer.runtime.app import run_relay
from consumer.runtime.relay import StopWhen

__all__ = ["StopWhen", "run_relay"]
