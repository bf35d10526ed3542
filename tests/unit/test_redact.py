"""Masking catches a fiscal code in any spelling, and leaves everything else readable."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer import redact as redact_module
from consumer.redact import DETAIL_LIMIT, mask, redact

CODE = "RSSMRA85T10A562S"


@pytest.mark.parametrize(
    "spelling",
    [
        CODE,
        CODE.lower(),
        "Rssmra85t10a562s",
        "RSS MRA 85T10 A562S",
        "RSS-MRA-85T10-A562S",
        "RSS.MRA.85T10.A562S",
        "R S S M R A 8 5 T 1 0 A 5 6 2 S",
        CODE[:15],
        CODE[1:],
        CODE + "X",
        "X" + CODE,
        "1" + CODE,  # at the start of a text, once missed
        CODE + "1",
        "RSSMR485T10A562S",  # one wrong character
        "RSSMRA85T10A5Z2S",
        "RSSMRAURTMLALPQS",  # omocodia: every digit written as a letter
    ],
)
@pytest.mark.parametrize(
    "around",
    [
        "{}",
        "data.recipient_fiscal_code: '{}' does not match",
        "cf={}&x=1",
        '{{"cf": "{}"}}',
        "\n{}\n",
    ],
)
def test_a_code_in_any_spelling_is_masked(spelling: str, around: str) -> None:
    masked = mask(around.format(spelling))

    assert spelling not in masked
    compact = "".join(c for c in masked.upper() if c.isalnum())
    assert not any(CODE[i : i + 15] in compact for i in range(2))
    assert "**********" in masked


@pytest.mark.parametrize(
    "text",
    [
        "event 01JC8XQ6V3ZK4M2N8P5R7T9W1Y failed",
        "notice 302000100000009424, IUV 02000100000009424",
        "550e8400-e29b-41d4-a716-446655440000",
        "3 consecutive 403s on one service",
        "the process exits within this plus 5 s",
        "IO's JavaScript counts UTF-16 units",
        "recipient fiscal code has lower-case letters; IO's fiscal code pattern is upper case",
        "RSSMRA85T10A56",  # 14 characters: too little of a code to name anyone
    ],
)
def test_text_without_a_code_is_left_alone(text: str) -> None:
    assert mask(text) == text


def test_the_mask_keeps_three_characters_at_each_end() -> None:
    assert mask(f"code {CODE.lower()}.") == "code RSS**********62S."


def test_redact_masks_then_cuts() -> None:
    long = f"{'x' * (DETAIL_LIMIT - 5)} {CODE} and more"

    redacted = redact(long)

    assert len(redacted) == DETAIL_LIMIT
    assert redacted.endswith("…")
    assert "MRA" not in redacted
    assert "85T10" not in redacted


def _full_match(text: str) -> str:
    """The mask without its shortcut: the fuzzy match over every text."""
    return redact_module._CODE_LIKE.sub(redact_module._masked, " " + text)[1:]


@settings(max_examples=400)
@given(
    st.one_of(
        st.text(alphabet="RSMA85T10A562SXZ -._é", min_size=15, max_size=40),
        st.builds(
            lambda cut, noise: CODE[: 15 + cut] + noise,
            st.integers(0, 1),
            st.text(alphabet="0123456789-", max_size=6),
        ),
        st.builds(
            lambda at, drop: CODE[:at] + CODE[at + drop :],
            st.integers(0, 15),
            st.integers(0, 2),
        ),
    )
)
def test_the_letter_count_shortcut_never_lets_a_code_through(text: str) -> None:
    """Texts with fewer than eight letters skip the fuzzy match: it would have found none."""
    assert mask(text) == _full_match(text)


def test_an_id_with_few_letters_is_left_alone() -> None:
    assert mask("filter-000000001") == "filter-000000001"
