"""Deliver: IO's payloads, its API client, and the outcomes of every call."""

from consumer.io.client import IoClient, RetryPolicy
from consumer.io.models import NewMessage
from consumer.io.outcomes import (
    GaveUp,
    Profile,
    ProfileNotFound,
    ProfileOutcome,
    Refused,
    SubmitOutcome,
    Submitted,
    Unknown,
)

__all__ = [
    "GaveUp",
    "IoClient",
    "NewMessage",
    "Profile",
    "ProfileNotFound",
    "ProfileOutcome",
    "Refused",
    "RetryPolicy",
    "SubmitOutcome",
    "Submitted",
    "Unknown",
]
