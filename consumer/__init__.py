"""io-relay: domain events from Kafka, delivered as messages on the IO app."""

__version__ = "0.1.0"
