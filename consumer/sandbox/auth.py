"""Who is calling: the subscription key names a service and the account it bills to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from consumer.sandbox.profiles_file import DEFAULT_ORGANIZATION_FISCAL_CODE, Subscription

DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True, slots=True)
class Caller:
    subscription_key: str
    service: str
    account: str
    organization_fiscal_code: str
    may_send: bool = True
    """False for a MANAGE key: IO's manage subscription cannot submit messages."""
    may_manage: bool = True
    """Whether the key may call the remote-content configuration API (a MANAGE key)."""

    @property
    def key_fingerprint(self) -> str:
        return key_fingerprint(self.subscription_key)


def key_fingerprint(key: str) -> str:
    """Which key called, for the admin views and tests; the key itself never leaves."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


class KeyRefused(Exception):
    """The gateway refuses the call; `reason` is APIM's wording."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


MISSING_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)


class Authenticator:
    """Maps a key to its caller.

    With no subscription list every non-empty key is accepted, is its own service, named
    by its fingerprint (so only it can read its messages), bills to the one account
    "default" and may do everything. With a list, only the listed keys are accepted, and a
    key marked `manage` may manage configurations but not send, as at IO.
    """

    def __init__(self, subscriptions: dict[str, Subscription] | None) -> None:
        self._callers = (
            None
            if subscriptions is None
            else {
                key: Caller(
                    key,
                    entry.service,
                    entry.account,
                    entry.organization_fiscal_code,
                    may_send=not entry.manage,
                    may_manage=entry.manage,
                )
                for key, entry in subscriptions.items()
            }
        )

    def identify(self, subscription_key: str | None) -> Caller:
        if not subscription_key:
            raise KeyRefused(MISSING_KEY)
        if self._callers is None:
            return Caller(
                subscription_key,
                key_fingerprint(subscription_key),
                DEFAULT_ACCOUNT,
                DEFAULT_ORGANIZATION_FISCAL_CODE,
            )
        caller = self._callers.get(subscription_key)
        if caller is None:
            raise KeyRefused(INVALID_KEY)
        return caller
