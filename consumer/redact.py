"""Fiscal codes out of every text io-relay writes: logs, status records, DLQ headers, errors.

A code is personal in any spelling, so the match is loose on purpose: any case; single
spaces, hyphens, dots or underscores between its characters; one character wrong, missing
or extra (a code cut to 15 characters, or one with a typo, still names a citizen). It must
stand alone, not inside a longer token (event ids and ULIDs stay readable), and a spelling
with separators must carry at least four digits, which prose such as "consecutive 403s"
does not. What is left after the mask tells two citizens apart in an incident, and no more.
"""

from __future__ import annotations

import regex

_LETTER = "[A-Z]"
_DIGIT = "[0-9LMNPQRSTUV]"  # omocodia writes a digit as one of these letters
_SHAPE = (_LETTER,) * 6 + (_DIGIT, _DIGIT, _LETTER, _DIGIT, _DIGIT, _LETTER) + (_DIGIT,) * 3
_SEPARATOR = r"[ \-._]?"
_CODE_LIKE = regex.compile(
    r"(?<![A-Z0-9])(?:" + _SEPARATOR.join((*_SHAPE, _LETTER)) + r"){e<=1:[A-Z0-9]}(?![A-Z0-9])",
    regex.IGNORECASE | regex.BESTMATCH,
)
_SPACED_DIGITS_AT_LEAST = 4
_SHORTEST = 15
_FEWEST_LETTERS = 8
"""A code has nine letters; one error can take one away. A text with fewer letters holds no
code, and is let through without the fuzzy match, which costs ~10 µs on a 16-character id."""

DETAIL_LIMIT = 300
"""The longest third-party text (IO's `detail`) a record or log carries, in characters."""


def mask_fiscal_code(code: str) -> str:
    """The first three and last three characters, upper case, around ten stars."""
    chars = "".join(c for c in code.upper() if c.isalnum())
    return f"{chars[:3]}{'*' * 10}{chars[-3:]}"


def mask(text: str) -> str:
    """`text` with every fiscal code in it, in any spelling, masked."""
    if len(text) < _SHORTEST or sum(map(str.isalpha, text)) < _FEWEST_LETTERS:
        return text
    # A space ahead: at the very start of a string, `regex` does not try a fuzzy match that
    # begins with an inserted character (1RSSMRA85T10A562S). It can never be part of a match.
    return _CODE_LIKE.sub(_masked, " " + text)[1:]


def redact(text: str, limit: int = DETAIL_LIMIT) -> str:
    """Masked, then cut to `limit` characters: for text io-relay did not write itself."""
    masked = mask(text)
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"


def _masked(match: regex.Match[str]) -> str:
    found = match.group(0)
    if not found.isalnum() and sum(c.isdigit() for c in found) < _SPACED_DIGITS_AT_LEAST:
        return found
    return mask_fiscal_code(found)
