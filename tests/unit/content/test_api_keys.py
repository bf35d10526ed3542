"""The content server's API keys: any configured key passes, nothing else does."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from consumer.content import ApiKeys


def test_both_keys_of_a_rotation_pass_and_nothing_else_does() -> None:
    keys = ApiKeys([SecretStr("old-key-123"), SecretStr("new-key-456")])

    assert keys.accepts("old-key-123")
    assert keys.accepts("new-key-456")
    for wrong in (None, "", "old-key-12", "old-key-1234", "NEW-KEY-456", "new-key-456 "):
        assert not keys.accepts(wrong), wrong


@pytest.mark.parametrize("keys", [[], [SecretStr("")]])
def test_no_key_or_an_empty_one_is_refused(keys: list[SecretStr]) -> None:
    with pytest.raises(ValueError, match="key"):
        ApiKeys(keys)
