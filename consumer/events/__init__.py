"""Decode: the contracts of incoming events and how bytes become them."""

from consumer.events.decode import Event, decode
from consumer.events.input import InputRecord

__all__ = ["Event", "InputRecord", "decode"]
