"""Premium content: what IO's backend fetches from io-relay when a citizen opens a message."""

from consumer.content.api_keys import ApiKeys
from consumer.content.sealed import Attachment, ContentKeys, ContentReference

__all__ = ["ApiKeys", "Attachment", "ContentKeys", "ContentReference"]
