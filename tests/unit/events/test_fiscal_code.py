"""FiscalCodePolicy: IO's pattern always, check character and omocodia in strict mode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.it import codicefiscale

from consumer.events.fiscal_code import FiscalCodePolicy
from consumer.io.models import FISCAL_CODE_PATTERN

SANDBOX_CODE = "AAAAAA00A00A000A"  # IO's sandbox test code: fails the checksum
DEFAULT = FiscalCodePolicy()
STRICT = FiscalCodePolicy(strict=True)
OMOCODE_LETTERS = "LMNPQRSTUV"  # 0..9, as the Agenzia delle Entrate substitutes them
DIGIT_POSITIONS = (6, 7, 9, 10, 12, 13, 14)


def with_check_character(first15: str) -> str:
    return first15 + codicefiscale.calc_check_digit(first15)


def omocode(code: str, substitutions: int) -> str:
    """The code the Agenzia issues on a clash: digits become letters, rightmost first."""
    chars = list(code[:15])
    for position in DIGIT_POSITIONS[::-1][:substitutions]:
        chars[position] = OMOCODE_LETTERS[int(chars[position])]
    return with_check_character("".join(chars))


# Mario Rossi, born 10 December 1985 in Agrigento (A089); Giulia Bianchi, born 12 May 1990
# in Milan (F205): a woman's birth day has 40 added.
MARIO = with_check_character("RSSMRA85T10A089")
GIULIA = with_check_character("BNCGLI90E52F205")


def wrong_check_character(code: str) -> str:
    return code[:15] + ("A" if code[15] != "A" else "B")


def test_the_computed_codes_are_what_the_library_says() -> None:
    assert MARIO == "RSSMRA85T10A089Y"
    assert codicefiscale.get_birth_date(GIULIA).isoformat() == "1990-05-12"
    assert codicefiscale.get_gender(GIULIA) == "F"


@pytest.mark.parametrize("policy", [DEFAULT, STRICT], ids=["default", "strict"])
@pytest.mark.parametrize(
    "code",
    [MARIO, GIULIA, omocode(MARIO, 1), omocode(MARIO, 3), omocode(GIULIA, 7)],
    ids=["mario", "giulia", "omocode-1", "omocode-3", "omocode-all"],
)
def test_a_real_code_is_accepted_unchanged(policy: FiscalCodePolicy, code: str) -> None:
    assert policy.check(code) == code


def test_an_omocode_replaces_digits_with_letters() -> None:
    assert omocode(MARIO, 3)[:15] == "RSSMRA85T10ALUV"
    assert omocode(GIULIA, 7)[:15] == "BNCGLIVLERNFNLR"
    assert codicefiscale.get_birth_date(omocode(GIULIA, 7)).isoformat() == "1990-05-12"


def test_a_wrong_check_character_passes_io_pattern_but_not_strict_mode() -> None:
    typo = wrong_check_character(MARIO)

    assert DEFAULT.check(typo) == typo
    with pytest.raises(
        ValueError, match=r"^recipient fiscal code check character is A, expected Y$"
    ):
        STRICT.check(typo)


def test_a_typo_in_the_name_part_is_caught_by_the_check_character() -> None:
    typo = "RSSMRB" + MARIO[6:]

    with pytest.raises(ValueError, match="check character is Y, expected"):
        STRICT.check(typo)


def test_an_impossible_birth_date_is_refused_in_strict_mode() -> None:
    day_zero = with_check_character("AAAAAA00A00A000")

    assert DEFAULT.check(day_zero) == day_zero
    with pytest.raises(ValueError, match="birth date part"):
        STRICT.check(day_zero)


def test_the_sandbox_code_needs_the_allow_list_in_strict_mode() -> None:
    assert DEFAULT.check(SANDBOX_CODE) == SANDBOX_CODE
    with pytest.raises(ValueError, match="check character is A, expected I"):
        STRICT.check(SANDBOX_CODE)

    allowing = FiscalCodePolicy(strict=True, allow=frozenset({SANDBOX_CODE}))

    assert allowing.check(SANDBOX_CODE) == SANDBOX_CODE
    with pytest.raises(ValueError, match="check character"):
        allowing.check(wrong_check_character(MARIO))


@pytest.mark.parametrize("policy", [DEFAULT, STRICT], ids=["default", "strict"])
@pytest.mark.parametrize("code", [MARIO.lower(), MARIO[:15] + "y", "Rssmra85t10a089y"])
def test_lower_case_is_refused_not_fixed(policy: FiscalCodePolicy, code: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters; IO's fiscal code pattern is upper"):
        policy.check(code)


@pytest.mark.parametrize("policy", [DEFAULT, STRICT], ids=["default", "strict"])
@pytest.mark.parametrize(
    "code",
    [
        pytest.param(f" {MARIO}", id="leading-space"),
        pytest.param(f"{MARIO}\n", id="trailing-newline"),
        pytest.param(MARIO[:15], id="too-short"),
        pytest.param(f"{MARIO}A", id="too-long"),
        pytest.param("00743110157", id="company-code"),
        pytest.param("RSSMRA85Z10A089Y", id="no-such-month"),
        pytest.param("RSSMRA85T10A08AY", id="letter-not-omocode"),
        pytest.param("", id="empty"),
    ],
)
def test_what_io_would_refuse_is_refused(policy: FiscalCodePolicy, code: str) -> None:
    with pytest.raises(ValueError, match=r"^recipient fiscal code does not match IO's fiscal code"):
        policy.check(code)


def test_a_reason_never_quotes_the_code() -> None:
    for code in [wrong_check_character(MARIO), MARIO.lower(), f" {MARIO}"]:
        with pytest.raises(ValueError, match="recipient fiscal code") as refused:
            STRICT.check(code)
        assert code.strip().upper() not in str(refused.value).upper()


def test_an_allow_list_entry_that_could_never_match_is_refused() -> None:
    with pytest.raises(ValueError, match="aaaaaa00a00a000a"):
        FiscalCodePolicy(strict=True, allow=frozenset({"aaaaaa00a00a000a", SANDBOX_CODE}))


@settings(max_examples=300)
@given(st.from_regex(FISCAL_CODE_PATTERN, fullmatch=True))
def test_strict_mode_agrees_with_python_stdnum(code: str) -> None:
    assert DEFAULT.check(code) == code
    if codicefiscale.is_valid(code):
        assert STRICT.check(code) == code
    else:
        with pytest.raises(ValueError, match=r"check character|birth date"):
            STRICT.check(code)
