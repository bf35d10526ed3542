"""Notice numbers as upstream prints them, and as IO wants them."""

import pytest

from consumer.pagopa import notice_number


@pytest.mark.parametrize(
    "value",
    [
        "302100000000123456",
        "3021 0000 0000 1234 56",
        "3021-0000-0000-1234-56",
        "3021.0000.0000.1234.56",
        " 3021\xa00000\t0000 123456 ",
        302100000000123456,
    ],
)
def test_notice_number_drops_the_separators_printed_notices_use(value: str | int) -> None:
    assert notice_number(value) == "302100000000123456"


def test_a_numeric_notice_number_gets_its_leading_zeros_back() -> None:
    assert notice_number(12345678901234567) == "012345678901234567"
    assert notice_number("012345678901234567") == "012345678901234567"


FULLWIDTH_DIGITS = "".join(chr(0xFF10 + int(digit)) for digit in "302100000000123456")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("30210000000012345", "18 digits, not 17"),
        ("3021000000001234567", "18 digits, not 19"),
        (3021000000001234567, "18 digits, not 19"),
        ("", "18 digits, not 0"),
        ("402100000000123456", "starts with 0, 1, 2 or 3 .*not 4"),
        ("90210000000012345X", "only digits, but this one has 'X'"),
        ("3021_0000_0000_1234_56", "only digits, but this one has '_'"),
        (FULLWIDTH_DIGITS, "only digits, but this one has '\uff13'"),
        (-302100000000123456, "negative"),
    ],
)
def test_notice_number_names_what_is_wrong(value: str | int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        notice_number(value)


@pytest.mark.parametrize("value", [True, 3.0e17, None])
def test_notice_number_refuses_other_types(value: object) -> None:
    with pytest.raises(TypeError, match="string of digits"):
        notice_number(value)  # type: ignore[arg-type]
