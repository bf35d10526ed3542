"""Fuzzing decode: whatever a Kafka record holds, decode returns an Event or a DecodeError.

A partition must never stop on bad input, so no bytes, headers or JSON may make decode raise
anything else (a ValueError, a RecursionError, a pydantic error) or hang. Every DecodeError
must also say what was wrong (`reason`) and where (`field`): both become DLQ headers.

Hangs: each test runs under a pytest-timeout of its own, far above what it needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, currently_in_test_context, given, settings
from hypothesis import strategies as st

from consumer.errors import DecodeError
from consumer.events import Event, EventTypes, InputRecord, decode
from consumer.events.types import PaymentNoticeIssued

pytestmark = pytest.mark.timeout(240)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TYPES = EventTypes()

NOTICE: dict[str, Any] = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "notice_number": "3021 0000 0000 1234 56",
    "amount_cents": 18750,
    # Non-ASCII on purpose: truncations then also cut multi-byte UTF-8 sequences in half.
    "description": "TARI 2026 \u2013 prima rata, più € 2 di spese 🗑️",
    "payee_fiscal_code": "01199250158",
    "payee_name": "Comune di Demo",
    "due_date": "2027-03-31",
    "invalid_after_due_date": False,
    "category": "TARI",
    "iuv": "02100000000123456",
    "debt_position_id": "dp-1",
}
DOCUMENT: dict[str, Any] = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "document_id": "CERT-2026-000123",
    "title": "Certificato di residenza \u2013 è pronto",
    "category": "certificati",
    "download_url": "https://documenti.comune-demo.example/certificati/CERT-2026-000123",
    "available_until": "2027-01-31",
    "issuer_name": "Ufficio anagrafe",
}
VALID_DATA: dict[str, dict[str, Any]] = {
    "payment_notice.issued": NOTICE,
    "document.ready": DOCUMENT,
}
EVENT_TYPES = sorted(VALID_DATA)
ENVELOPE_KEYS = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype")
BINARY_HEADERS = (*(f"ce_{key}" for key in ENVELOPE_KEYS), "ce_data", "content-type")
DATA_KEYS = sorted({*NOTICE, *DOCUMENT})


def full_width(ascii_digits: str) -> str:
    """The same digits in their full-width forms (U+FF10 to U+FF19), which regexes' \\d takes."""
    return "".join(chr(0xFF10 + int(digit)) for digit in ascii_digits)


def cloud_event(event_type: str, data: object, **attributes: object) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": event_type,
        "time": "2026-11-23T09:00:00Z",
        "subject": "fuzz",
        "datacontenttype": "application/json",
    }
    envelope.update(attributes)
    envelope["data"] = data
    return envelope


def dump(value: object) -> bytes:
    """UTF-8 JSON, non-ASCII kept raw; lone surrogates (not UTF-8-encodable) as escapes."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("utf-8")


def structured(value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()) -> InputRecord:
    return InputRecord("in", 0, 0, b"key", value, headers)


def binary_headers(event_type: str) -> tuple[tuple[str, bytes], ...]:
    return (
        ("ce_specversion", b"1.0"),
        ("ce_id", b"e-1"),
        ("ce_source", b"urn:test"),
        ("ce_type", event_type.encode()),
        ("content-type", b"application/json"),
    )


def binary(event_type: str, value: bytes | None) -> InputRecord:
    return InputRecord("in", 0, 0, b"key", value, binary_headers(event_type))


def assert_explained(error: DecodeError) -> None:
    assert isinstance(error.reason, str), error
    assert error.reason.strip(), f"a DecodeError without a reason: {error!r}"
    assert isinstance(error.field, str), f"a DecodeError without a field: {error!r}"
    assert error.field.strip(), f"a DecodeError with an empty field: {error!r}"


def note(label: str) -> None:
    """hypothesis.event(), also callable from the plain (non-hypothesis) tests."""
    if currently_in_test_context():
        hypothesis.event(label)


def outcome(record: InputRecord) -> Event | None:
    """The event, or None for a well-explained DecodeError; any other exception propagates."""
    try:
        decoded = decode(record, TYPES)
    except DecodeError as error:
        assert_explained(error)
        note(f"DecodeError at {(error.field or '').split('.')[0]}")
        return None
    note(f"decoded {decoded.type}")
    return decoded


def refused(record: InputRecord) -> DecodeError:
    """The DecodeError decode must raise for `record` (nothing else, and not success)."""
    with pytest.raises(DecodeError) as caught:
        decode(record, TYPES)
    assert_explained(caught.value)
    return caught.value


# -- strategies -------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and ±Infinity too: Python's json reads and writes them
    | st.text()
    | st.sampled_from(
        [
            "",
            " ",
            "1.0",
            "AAAAAA00A00A000A",
            "302100000000123456",
            "2027-03-31",
            "2027-03-31T10:00:00+02:00",
            "9999-12-31T23:59:59-23:59",
            "https://x.example/a",
            "payment_notice.issued",
            "document.ready",
            "\ud800",  # a lone surrogate: json.dumps writes it as an escape
        ]
    )
)
json_keys = st.sampled_from([*ENVELOPE_KEYS, "data", *DATA_KEYS]) | st.text(max_size=12)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(json_keys, children, max_size=6)
    ),
    max_leaves=40,
)

MISSING = object()  # a field to delete rather than set
random_headers = st.lists(
    st.tuples(
        st.sampled_from(BINARY_HEADERS) | st.text(max_size=20),
        st.binary(max_size=40)
        | st.sampled_from([b"1.0", b"e-1", b"urn:test", b"payment_notice.issued", b"\xff\xfe"]),
    ),
    max_size=8,
).map(tuple)


# -- (a) arbitrary bytes ----------------------------------------------------------------------


@FUZZ
@given(value=st.none() | st.binary(max_size=2_000))
def test_arbitrary_bytes_without_headers(value: bytes | None) -> None:
    outcome(structured(value))


@FUZZ
@given(value=st.none() | st.binary(max_size=2_000), headers=random_headers)
def test_arbitrary_bytes_with_random_headers(
    value: bytes | None, headers: tuple[tuple[str, bytes], ...]
) -> None:
    outcome(structured(value, headers))


@FUZZ
@given(
    event_type=st.sampled_from(EVENT_TYPES),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
    as_binary=st.booleans(),
)
def test_valid_events_with_random_bytes_overwritten(
    event_type: str, flips: list[tuple[float, int]], as_binary: bool
) -> None:
    data = VALID_DATA[event_type]
    raw = bytearray(dump(data if as_binary else cloud_event(event_type, data)))
    for where, byte in flips:
        raw[int(where * len(raw))] = byte
    outcome(binary(event_type, bytes(raw)) if as_binary else structured(bytes(raw)))


# -- (b) every truncation of a valid event ----------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_truncation_of_a_structured_event_is_a_decode_error(event_type: str) -> None:
    raw = dump(cloud_event(event_type, VALID_DATA[event_type]))
    assert outcome(structured(raw)) is not None, "the untruncated event must decode"

    for end in range(len(raw)):
        error = refused(structured(raw[:end]))
        assert error.field == "value", (end, error)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_truncation_of_binary_mode_data_is_a_decode_error(event_type: str) -> None:
    raw = dump(VALID_DATA[event_type])
    assert outcome(binary(event_type, raw)) is not None, "the untruncated data must decode"

    for end in range(len(raw)):
        error = refused(binary(event_type, raw[:end]))
        assert error.field == "value (binary-mode data)", (end, error)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_truncation_of_a_binary_header_is_handled(event_type: str) -> None:
    headers = binary_headers(event_type)
    value = dump(VALID_DATA[event_type])
    for index, (name, header) in enumerate(headers):
        for end in range(len(header)):
            cut = (*headers[:index], (name, header[:end]), *headers[index + 1 :])
            outcome(InputRecord("in", 0, 0, None, value, cut))


# -- (c) valid JSON of any shape --------------------------------------------------------------


@FUZZ
@given(value=json_values)
def test_any_json_as_the_value(value: object) -> None:
    outcome(structured(json.dumps(value).encode()))


@FUZZ
@given(event_type=st.sampled_from(EVENT_TYPES), data=json_values, as_binary=st.booleans())
def test_any_json_as_the_data(event_type: str, data: object, as_binary: bool) -> None:
    if as_binary:
        outcome(binary(event_type, json.dumps(data).encode()))
    else:
        outcome(structured(json.dumps(cloud_event(event_type, data)).encode()))


@FUZZ
@given(
    event_type=st.sampled_from(EVENT_TYPES),
    extra=st.dictionaries(json_keys, json_values, max_size=6),
)
def test_any_json_merged_into_valid_data(event_type: str, extra: dict[str, Any]) -> None:
    outcome(structured(dump(cloud_event(event_type, {**VALID_DATA[event_type], **extra}))))


# -- (d) one field of a valid event mutated ---------------------------------------------------


@FUZZ
@given(
    event_type=st.sampled_from(EVENT_TYPES),
    where=st.sampled_from(["envelope", "data", "binary data"]),
    key=st.data(),
    value=st.just(MISSING) | json_values,
)
def test_valid_event_with_one_field_mutated(
    event_type: str, where: str, key: st.DataObject, value: object
) -> None:
    data = dict(VALID_DATA[event_type])
    envelope = cloud_event(event_type, data)
    in_data = where != "envelope"
    target = data if in_data else envelope
    name = key.draw(st.sampled_from(sorted(target)) | json_keys, label="field")
    if value is MISSING:
        target.pop(name, None)
    else:
        target[name] = value
    note("mutated data" if in_data else "mutated envelope")

    if where == "binary data":
        outcome(binary(event_type, json.dumps(data).encode()))
    else:
        outcome(structured(json.dumps(envelope).encode()))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient_fiscal_code", "aaaaaa00a00a000a"),
        ("recipient_fiscal_code", "AAAAAA00A00A000A\n"),
        ("notice_number", "4021 0000 0000 1234 56"),
        ("notice_number", 302100000000123456),
        ("notice_number", full_width("302100000000123456")),
        ("amount_cents", 10**30),
        ("amount_cents", 1.5),
        ("amount_cents", True),
        ("due_date", "2027-02-30"),
        ("due_date", "2027-03-31T10:00:00"),  # naive
        ("due_date", "9999-12-31T23:59:59-23:59"),
        ("due_date", 1_790_000_000_000),  # epoch millis
        ("payee_fiscal_code", "0119925015" + full_width("8")),
    ],
)
def test_edge_values_in_a_payment_notice(field: str, value: object) -> None:
    outcome(structured(dump(cloud_event("payment_notice.issued", {**NOTICE, field: value}))))


@FUZZ
@given(
    instant=st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        ),
    )
)
def test_a_due_instant_decodes_to_the_same_instant(instant: datetime) -> None:
    """An instant with an offset keeps its moment; it is not read as a local Italian date."""
    data = {**NOTICE, "due_date": instant.isoformat()}
    decoded = outcome(structured(dump(cloud_event("payment_notice.issued", data))))

    assert decoded is not None
    assert isinstance(decoded.data, PaymentNoticeIssued)
    due = decoded.data.due_date
    assert isinstance(due, datetime), f"{instant.isoformat()} decoded as {due!r}"
    assert due == instant


# -- (e) binary mode with random or invalid header bytes --------------------------------------


@FUZZ
@given(
    event_type=st.sampled_from(EVENT_TYPES),
    replaced=st.dictionaries(
        st.sampled_from(BINARY_HEADERS),
        st.binary(max_size=30)
        | st.sampled_from([b"\xff", b"\xc3\x28", b"1.\x80", b"\xed\xa0\x80"]),
        min_size=1,
    ),
    extra=random_headers,
    value=st.sampled_from(["valid", "random JSON", "bytes"]),
    payload=st.data(),
)
def test_binary_mode_with_random_header_bytes(
    event_type: str,
    replaced: dict[str, bytes],
    extra: tuple[tuple[str, bytes], ...],
    value: str,
    payload: st.DataObject,
) -> None:
    headers = {name: header for name, header in binary_headers(event_type)}
    headers.update(replaced)
    headers.setdefault("ce_specversion", b"1.0")  # stay in binary mode
    if value == "valid":
        raw: bytes = dump(VALID_DATA[event_type])
    elif value == "random JSON":
        raw = json.dumps(payload.draw(json_values, label="data")).encode()
    else:
        raw = payload.draw(st.binary(max_size=200), label="value")
    outcome(InputRecord("in", 0, 0, None, raw, (*headers.items(), *extra)))


@pytest.mark.parametrize("name", [n for n in BINARY_HEADERS if n != "content-type"])
def test_non_utf8_binary_header_is_a_decode_error_naming_it(name: str) -> None:
    headers = (*binary_headers("document.ready"), (name, b"\xff\xfe\xc3\x28"))
    error = refused(InputRecord("in", 0, 0, None, dump(DOCUMENT), headers))
    assert name in (error.field or "")


def test_non_utf8_content_type_is_an_explained_refusal() -> None:
    headers = (*binary_headers("document.ready")[:-1], ("content-type", b"\xff\xfe"))
    error = refused(InputRecord("in", 0, 0, None, dump(DOCUMENT), headers))
    assert error.field == "datacontenttype"


# -- (f) deep nesting and oversized tokens ----------------------------------------------------

DEPTH = 100_000
PLACEHOLDER = "@@nested@@"


def with_nested(template: dict[str, Any], nested: bytes) -> bytes:
    """`template` as JSON with `nested` (raw JSON text) where its PLACEHOLDER string was."""
    return dump(template).replace(json.dumps(PLACEHOLDER).encode(), nested)


DEEP: dict[str, Callable[[], InputRecord]] = {
    "open brackets": lambda: structured(b"[" * DEPTH),
    "closed brackets": lambda: structured(b"[" * DEPTH + b"]" * DEPTH),
    "open objects": lambda: structured(b'{"a":' * DEPTH),
    "closed objects": lambda: structured(b'{"a":' * DEPTH + b"1" + b"}" * DEPTH),
    "as structured data": lambda: structured(
        dump(cloud_event("document.ready", None))[: -len(b"null}")]
        + b"[" * DEPTH
        + b"]" * DEPTH
        + b"}"
    ),
    "as a data field": lambda: structured(
        dump(cloud_event("document.ready", {**DOCUMENT, "title": None}))[: -len(b"null}}")].replace(
            b'"title": null', b'"title": ' + b"[" * DEPTH + b"]" * DEPTH
        )
        + b"null}}"
    ),
    "as binary data": lambda: binary("payment_notice.issued", b"[" * DEPTH + b"]" * DEPTH),
}


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_deeply_nested_json_is_a_decode_error_not_a_recursion_error(shape: str) -> None:
    error = refused(DEEP[shape]())
    assert error.field is not None
    assert error.field.startswith("value"), error


@pytest.mark.parametrize("depth", [10, 200, 500, 900])
def test_nested_json_below_the_parser_limit_is_handled(depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    for event_type in EVENT_TYPES:
        outcome(binary(event_type, nested))
        outcome(
            binary(event_type, with_nested({**VALID_DATA[event_type], "x": PLACEHOLDER}, nested))
        )
        envelope = cloud_event(event_type, VALID_DATA[event_type], subject=PLACEHOLDER)
        outcome(structured(with_nested(envelope, nested)))


# Python refuses to turn an integer literal of more than 4300 digits into an int
# (sys.get_int_max_str_digits): json.loads raises ValueError, not JSONDecodeError.
LONG_INTEGER = b"9" * 5_000


@pytest.mark.parametrize(
    "record",
    [
        structured(LONG_INTEGER),
        structured(b'{"specversion": "1.0", "id": ' + LONG_INTEGER + b"}"),
        structured(
            with_nested(
                cloud_event("payment_notice.issued", {**NOTICE, "amount_cents": PLACEHOLDER}),
                LONG_INTEGER,
            )
        ),
        binary("payment_notice.issued", b'{"amount_cents": ' + LONG_INTEGER + b"}"),
    ],
    ids=["value", "envelope", "data", "binary data"],
)
def test_integer_literal_too_long_for_python_is_a_decode_error(record: InputRecord) -> None:
    error = refused(record)
    assert error.field is not None
    assert error.field.startswith("value"), error


def test_huge_value_is_handled() -> None:
    data = {**DOCUMENT, "title": "x" * 5_000_000}
    assert outcome(structured(dump(cloud_event("document.ready", data)))) is not None
