"""Decode: the contracts of incoming events and how bytes become them."""

from consumer.events.decode import Event, decode
from consumer.events.fiscal_code import FiscalCodePolicy
from consumer.events.input import InputRecord
from consumer.events.registry import Data, EventTypes

__all__ = ["Data", "Event", "EventTypes", "FiscalCodePolicy", "InputRecord", "decode"]
