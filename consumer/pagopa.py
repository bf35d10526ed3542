"""pagoPA's identifiers, as upstream systems print them and as IO wants them."""

from __future__ import annotations

import re

from consumer.io.models import NOTICE_NUMBER_PATTERN


def notice_number(value: str | int) -> str:
    """A pagoPA notice number ("codice avviso") as IO's payment_data wants it: 18 bare digits.

    Printed notices group the digits with spaces, dashes or dots, and these go. An integer (a
    number in JSON) has lost its leading zeros; the code has a fixed width, so they come back.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"a notice number is a string of digits, not {type(value).__name__}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a notice number cannot be negative")
        digits = f"{value:018d}"
    else:
        digits = re.sub(r"[\s.\-]", "", value)
    if re.fullmatch(NOTICE_NUMBER_PATTERN, digits):
        return digits
    stray = next((char for char in digits if char not in "0123456789"), None)
    if stray is not None:
        raise ValueError(f"a notice number has only digits, but this one has {stray!r}")
    if len(digits) != 18:
        raise ValueError(f"a notice number has 18 digits, not {len(digits)}")
    raise ValueError(f"a notice number starts with 0, 1, 2 or 3 (its aux digit), not {digits[0]}")
