"""Which recipient fiscal codes io-relay accepts before it asks IO about them.

IO checks its pattern only, so a code with a typo in it is a valid recipient to IO: the
message goes to someone else or nowhere. Strict mode also checks what a typo breaks, the
check character and the birth date (omocodia included), with python-stdnum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.it import codicefiscale

from consumer.io.models import FISCAL_CODE_PATTERN


def _pattern_problem(code: str) -> str | None:
    """Why IO would refuse `code`, or None. A reason never quotes the code: it is personal."""
    if code != code.upper():
        return "has lower-case letters; IO's fiscal code pattern is upper case"
    if not re.fullmatch(FISCAL_CODE_PATTERN, code):
        return "does not match IO's fiscal code pattern"
    return None


def _checksum_problem(code: str) -> str | None:
    """Why the Agenzia delle Entrate could not have issued `code`, or None."""
    try:
        codicefiscale.validate(code)
    except InvalidChecksum:
        expected = codicefiscale.calc_check_digit(code[:-1])
        return f"check character is {code[-1]}, expected {expected}"
    except InvalidComponent:
        return "birth date part (characters 7 to 11) is not a real date"
    except ValidationError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class FiscalCodePolicy:
    """IO's pattern always; in strict mode also the check character, except for `allow`.

    `allow` is for sandbox test codes such as AAAAAA00A00A000A, which match IO's pattern but
    fail the checksum.
    """

    strict: bool = False
    allow: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        """An entry IO's pattern refuses could never match: a typo, named for the operator."""
        wrong = sorted(code for code in self.allow if _pattern_problem(code))
        if wrong:
            raise ValueError(f"allowed fiscal codes must match IO's pattern: {', '.join(wrong)}")

    def check(self, code: str) -> str:
        """`code` unchanged if accepted; ValueError with the reason, for an operator, if not.

        Nothing is upper-cased or trimmed here: a code that needs fixing is refused.
        """
        problem = _pattern_problem(code)
        if problem is None and self.strict and code not in self.allow:
            problem = _checksum_problem(code)
        if problem is not None:
            raise ValueError(f"recipient fiscal code {problem}")
        return code
