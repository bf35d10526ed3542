"""What IO refuses (403) when a submit asks for Premium features the sender cannot use.

A message with `third_party_data` is fetched from the sender's content server when the
citizen opens it, so IO needs a configuration that says where: one the sender's own account
registered. Attachments are a Premium (ADVANCED) feature.
"""

from __future__ import annotations

from consumer.io.models import FeatureLevelType, NewMessage
from consumer.sandbox.auth import Caller
from consumer.sandbox.configurations import ConfigurationStore

NO_CONFIGURATION_ID = "A message with third_party_data needs a configuration_id"
UNKNOWN_CONFIGURATION = "The configuration {id} does not exist or belongs to another sender"
ATTACHMENTS_NEED_ADVANCED = (
    "You are not allowed to send messages with attachments: they need feature_level_type ADVANCED"
)
MANAGE_KEY_CANNOT_SEND = "A MANAGE subscription key cannot submit messages"


def submit_refusal(message: NewMessage, caller: Caller, store: ConfigurationStore) -> str | None:
    """Why IO answers 403 to this submit, or None when it accepts it."""
    third_party = message.content.third_party_data
    if third_party is None:
        return None
    if third_party.configuration_id is None:
        return NO_CONFIGURATION_ID
    if store.owned(third_party.configuration_id, caller.account) is None:
        return UNKNOWN_CONFIGURATION.format(id=third_party.configuration_id)
    if third_party.has_attachments and message.feature_level_type is not FeatureLevelType.ADVANCED:
        return ATTACHMENTS_NEED_ADVANCED
    return None
