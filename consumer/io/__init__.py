"""Deliver: IO's payloads, its API client, pacing, and the outcomes of every call."""

from consumer.io.client import IoClient, IoService, LostSubmit, Timeouts
from consumer.io.limiter import AccountLimiter, BudgetShare, Pacer, RatePolicy
from consumer.io.models import NewMessage
from consumer.io.observer import IoObserver, NoObserver
from consumer.io.outcomes import (
    GaveUp,
    MessageNotFound,
    MessageOutcome,
    MessageState,
    Profile,
    ProfileNotFound,
    ProfileOutcome,
    Refused,
    SubmitOutcome,
    Submitted,
    Unknown,
)
from consumer.io.pace import Pace
from consumer.io.profiles import ProfileCache
from consumer.io.retries import RetryPolicy
from consumer.io.sending import Sending, SubmitInterrupted

__all__ = [
    "AccountLimiter",
    "BudgetShare",
    "GaveUp",
    "IoClient",
    "IoObserver",
    "IoService",
    "LostSubmit",
    "MessageNotFound",
    "MessageOutcome",
    "MessageState",
    "NewMessage",
    "NoObserver",
    "Pace",
    "Pacer",
    "Profile",
    "ProfileCache",
    "ProfileNotFound",
    "ProfileOutcome",
    "RatePolicy",
    "Refused",
    "RetryPolicy",
    "Sending",
    "SubmitInterrupted",
    "SubmitOutcome",
    "Submitted",
    "Timeouts",
    "Unknown",
]
