"""The renderer against IO's official spec: every payload that leaves it is one IO accepts.

1. Property: for any event data around the edges (long and exotic texts, big amounts, notice
   numbers with spaces, payee codes good and bad, due dates as days and as instants, any
   preferred languages), routed through the example rules and some adversarial ones,
   `render` either returns a NewMessage whose JSON body the official NewMessage schema
   accepts, with the event's recipient as `fiscal_code`, or raises RenderError. Nothing else.
2. Each example rule's own `example` renders to a valid payload in every language it has.
3. Markdown safety: a value from an event cannot make a link in the rendered markdown.

Lengths: IO counts a string's length in UTF-16 code units (JavaScript's `.length`, through
io-ts' WithinRangeString), Draft 4 JSON Schema counts code points. So minLength/maxLength
are checked here as IO checks them, with the bounds read from the spec (see `io_refusals`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from consumer.errors import DecodeError, RenderError
from consumer.events import Event, EventTypes, InputRecord, decode
from consumer.io.models import FISCAL_CODE_PATTERN, NewMessage
from consumer.rules import Rule, load_rules, render, route
from tests.contract.io_spec import require_spec, validator_for

pytestmark = pytest.mark.contract

MESSAGES_SPEC = require_spec("messages")
NEW_MESSAGE = validator_for(MESSAGES_SPEC, "NewMessage")
# The strings whose length the spec bounds in a body io-relay sends, with the spec's bounds.
_CONTENT_TEXT = MESSAGES_SPEC["definitions"]["MessageContentBase"]["properties"]
LENGTH_BOUNDS = {
    ("content", name): (_CONTENT_TEXT[name]["minLength"], _CONTENT_TEXT[name]["maxLength"])
    for name in ("subject", "markdown")
}

EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "examples" / "rules"
TYPES = EventTypes()
LANGUAGES = ("it_IT", "de_DE", "en_GB", "fr_FR")
MAIN_EXAMPLES = 600

# Rules an operator could write that push event values where IO is strict: raw values in the
# subject, a time_to_live, a due_date, a payee, a boolean and a feature level from the data.
# (The personal-data check lets a description or a title into a subject; amounts it refuses.)
ADVERSARIAL_RULES = """
rules:
  - name: raw-subject-notice
    event_type: payment_notice.issued
    service: s
    message:
      subject: "{{ data.description }}"
      markdown: |
        {{ data.description }}

        {{ data.payee_name | default('') }} {{ data.notice_number }} {{ data.amount_cents }}
        Un testo fisso, perché il markdown arrivi comunque agli 80 caratteri che IO chiede.
      due_date: "{{ data.due_date | io_due_date if data.due_date is defined else '' }}"
      payment_data:
        amount: "{{ data.amount_cents }}"
        notice_number: "{{ data.notice_number | notice_number }}"
        invalid_after_due_date: "{{ data.category is defined and data.category == 'TARI' }}"
        payee_fiscal_code: "{{ data.payee_fiscal_code | default('') }}"
      time_to_live: "{{ data.amount_cents }}"
      require_secure_channels: "{{ data.invalid_after_due_date }}"
    example:
      recipient_fiscal_code: AAAAAA00A00A000A
      notice_number: "302100000000123456"
      amount_cents: 86400
      description: "Canone unico patrimoniale 2026"
      category: "TARI"
      due_date: "2027-03-31T10:00:00+02:00"

  - name: raw-due-date-and-ttl
    event_type: payment_notice.issued
    service: s
    message:
      subject: "Avviso {{ data.iuv | default('di pagamento') }}"
      markdown: |
        # {{ data.description }}

        {{ data.payee_name | default('') }}: {{ data.amount_cents | euro }},
        {{ data.due_date | italian_date('full') if data.due_date is defined else 'mai' }}.
      due_date: "{{ data.debt_position_id | default('') }}"
      payment_data:
        amount: "{{ data.amount_cents }}"
        notice_number: "{{ data.notice_number }}"
        payee_fiscal_code: "{{ data.payee_name | default('') }}"
      time_to_live: "{{ data.iuv | default('') }}"
      feature_level_type: "{{ data.category | default('STANDARD') }}"
    example:
      recipient_fiscal_code: AAAAAA00A00A000A
      notice_number: "302100000000123456"
      amount_cents: 100
      description: "Un avviso di pagamento la cui scadenza arriva, grezza, dall'evento stesso"
      iuv: "3600"
      debt_position_id: "2027-03-31T21:59:59.000Z"
      payee_name: "01199250158"
      category: ADVANCED

  - name: raw-document
    event_type: document.ready
    service: s
    allowed_link_hosts: [x.example, xn--ls8h.example, documenti.comune-demo.example]
    message:
      subject: "{{ data.title }}"
      markdown: |
        {{ data.title }}

        {{ data.issuer_name | default('') }} {{ data.document_id }}
        {% if data.download_url is defined %}{{ link(data.download_url, data.title) }}{% endif %}
        {% if data.available_until is defined %}{{ data.available_until | italian_date('short') }}
        {%- endif %}
      due_date: >-
        {{ data.available_until | io_due_date if data.available_until is defined else '' }}
      time_to_live: 3600
    example:
      recipient_fiscal_code: AAAAAA00A00A000A
      document_id: "D-1"
      title: "Certificato di residenza storico, con le variazioni degli ultimi dieci anni"
      download_url: "https://x.example/d/1"
      available_until: "2027-01-31"
"""


# Loaded once, and not as fixtures: hypothesis prints a test's fixtures with a failing
# example, and a list of compiled rules would bury the event that failed.
@functools.cache
def example_rules() -> list[Rule]:
    return load_rules([EXAMPLE_RULES])


@functools.cache
def all_rules() -> list[Rule]:
    """The example rules and the adversarial ones (compiled: the file may go after loading)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "adversarial.yaml"
        path.write_text(ADVERSARIAL_RULES, encoding="utf-8")
        return [*example_rules(), *load_rules([path])]


EXAMPLE_CASES = [(rule.name, language) for rule in example_rules() for language in rule.texts]
EXAMPLE_NAMES = sorted({name for name, _ in EXAMPLE_CASES})


def rule_named(rules: list[Rule], name: str) -> Rule:
    [rule] = [rule for rule in rules if rule.name == name]
    return rule


# -- what IO accepts --------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """JavaScript's `.length`; a lone surrogate (no UTF-16 encoding in Python) counts one."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def io_refusals(body: dict[str, Any]) -> list[str]:
    """Why IO would refuse `body`: the official NewMessage schema, lengths in UTF-16 units."""
    problems = []
    for error in NEW_MESSAGE.iter_errors(body):
        if error.validator in ("minLength", "maxLength") and tuple(error.path) in LENGTH_BOUNDS:
            continue  # checked below, as IO counts
        problems.append(f"{error.json_path}: {error.message}")
    for (parent, name), (low, high) in LENGTH_BOUNDS.items():
        text = body.get(parent, {}).get(name)
        if isinstance(text, str) and not low <= utf16_length(text) <= high:
            problems.append(f"$.{parent}.{name}: {utf16_length(text)} UTF-16 units")
    return problems


def recipient_of(event: Event) -> str:
    data = event.data if isinstance(event.data, dict) else event.data.model_dump()
    return str(data["recipient_fiscal_code"])


def check_rendered(rule: Rule, event: Event, languages: list[str]) -> str:
    """Render and hold the result to the contract; the outcome, for statistics."""
    result: NewMessage | RenderError
    try:
        result = render(rule, event, languages)
    except RenderError as error:
        result = error
    if isinstance(result, RenderError):
        assert result.reason, result
        assert result.rule == rule.name
        return f"RenderError at {result.field}"
    body = result.to_json_body()
    problems = io_refusals(body)
    assert problems == [], f"rule {rule.name} rendered a body IO refuses: {problems}\n{body}"
    assert body["fiscal_code"] == recipient_of(event)
    json.dumps(body, allow_nan=False)  # the body must also be sendable as JSON
    if any(True for _ in NEW_MESSAGE.iter_errors(body)):  # only lengths can differ here
        return "rendered (Draft 4 would refuse its length in code points)"
    return "rendered"


# -- event data around the edges --------------------------------------------------------------

MARKUP = "[]()!*_`#<>&\\|~{}-+=.:/\"'"
ODD = ["\n", "\r\n", "\t", "\u2028", "\x00", "\x7f", "\u00a0", "\u200b", "\ufeff", " "]
EMOJI = ["💶", "🗑️", "👩‍👩‍👧", "🇮🇹", "€", "è", "ß"]
INJECTIONS = [
    "[paga qui](http://x)",
    "![img](https://x/y.png)",
    "<a href='http://x'>x</a>",
    "# Titolo",
    "1. elenco",
    "    codice",
    "https://x.example",
    "www.x.it",
    "a@b.it",
    "\\",
    "\ud83d",  # a lone surrogate: only an escape in the JSON
]
SYMBOLS = [*MARKUP, *ODD, *EMOJI]
pieces = st.text(
    alphabet=st.characters() | st.sampled_from([c for c in SYMBOLS if len(c) == 1]),
    min_size=1,
    max_size=30,
) | st.sampled_from([*INJECTIONS, *(c for c in SYMBOLS if len(c) > 1)])
EDGE_LENGTHS = [0, 1, 9, 10, 11, 79, 80, 81, 119, 120, 121, 9_000, 9_800, 9_950, 10_000, 10_001]


@st.composite
def long_text(draw: st.DrawFn, max_length: int = 12_000) -> str:
    """Up to `max_length` characters, often near IO's bounds, of markup, emoji and newlines.

    Now and then nothing, or only blanks, which decode refuses in a required field.
    """
    unit = "".join(draw(st.lists(pieces, min_size=1, max_size=5)))
    edges = [n for n in EDGE_LENGTHS if 0 < n <= max_length]
    length = draw(st.sampled_from(edges) | st.integers(1, max_length))
    text = (unit * math.ceil(length / len(unit)))[:length]
    return str(draw(mostly(st.just(text), st.sampled_from(["", " ", "\n\t", "\u2028"]))))


valid_fiscal_codes = st.sampled_from(["AAAAAA00A00A000A", "RSSMRA85T10A562S"]) | st.from_regex(
    FISCAL_CODE_PATTERN, fullmatch=True
)


def mostly(
    common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 10
) -> st.SearchStrategy[Any]:
    """`common`, else about once in `one_in` draws `rare`: enough events decode, enough fail.

    Drawn from a wide integer, not one_of: hypothesis favours the ends of a small range and
    explores a rare branch as eagerly as a common one. Shrinking goes to 0, the common side.
    """
    per_mille = 1000 // one_in
    return st.integers(0, 2**32).flatmap(
        lambda roll: rare if roll % 1000 >= 1000 - per_mille else common
    )


fiscal_codes = mostly(
    valid_fiscal_codes,
    st.sampled_from(["aaaaaa00a00a000a", "AAAAAA00A00A000", "AAAAAA00A00A000A ", "", "1" * 16]),
)


@st.composite
def notice_numbers(draw: st.DrawFn) -> str | int:
    digits = draw(st.from_regex(r"[0123][0-9]{17}", fullmatch=True))
    form = draw(
        mostly(
            st.sampled_from(["bare", "grouped", "spaced", "aux 4-9"]),
            st.sampled_from(["short", "number"]),
        )
    )
    if form == "grouped":
        return " ".join(digits[i : i + 4] for i in range(0, 18, 4))
    if form == "spaced":
        return f"  {digits[:9]} {digits[9:]} "
    if form == "aux 4-9":
        return draw(st.sampled_from("456789")) + digits[1:]
    if form == "short":
        return digits[:17]
    if form == "number":
        return int(digits)
    return digits


amounts = (
    st.integers(1, 10**11)
    | st.integers(3_000, 700_000)
    | st.sampled_from(
        [1, 2, 99, 100, 9_999_999_999, 10_000_000_000, 10**11, 3_599, 3_600, 604_800, 604_801]
    )
)
payee_codes = st.from_regex(r"[0-9]{11}", fullmatch=True) | st.sampled_from(
    ["0119925015", "011992501580", "0119925015A", " 01199250158", "01199250158\n"]
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
zones = offsets | st.sampled_from([UTC, ZoneInfo("Europe/Rome")])
SOON, LATER = datetime(2025, 1, 1), datetime(2030, 12, 31)
CALENDAR_EDGES = [
    "0001-01-01",
    "9999-12-31",
    "0999-06-30",
    "0001-01-01T00:30:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:00:00+01:00",
    "2027-03-31T00:00:00Z",
    "2026-03-29T02:30:00+01:00",  # in Rome's spring-forward gap
    "2026-10-25T02:30:00+02:00",  # in Rome's autumn fold
]
# Days and instants of the coming years mostly; now and then any date of the calendar, its
# ends, DST edges, or a naive date-time (which decode must refuse).
local_days = mostly(
    st.dates(SOON.date(), LATER.date()).map(date.isoformat),
    st.dates().map(date.isoformat) | st.sampled_from(CALENDAR_EDGES[:3]),
)
due_dates = mostly(
    local_days
    | st.datetimes(SOON, LATER, timezones=zones).map(datetime.isoformat)
    | st.datetimes(datetime(2026, 3, 28), datetime(2026, 11, 2), timezones=zones).map(
        datetime.isoformat
    ),
    st.sampled_from(CALENDAR_EDGES)
    | st.datetimes(timezones=zones).map(datetime.isoformat)
    | st.datetimes().map(datetime.isoformat),
    one_in=4,
)
categories = st.sampled_from(["TARI", "COSAP", "IMU", "internal", "certificati", "tari"])
https_urls = st.sampled_from(
    [
        "https://documenti.comune-demo.example/certificati/CERT-2026-000123",
        "https://x.example/a b",
        "https://x.example/(a)",
        "https://x.example/a)[b](http://evil",
        "https://x.example/<script>",
        "https://x.example/a\\b",
        "https://x.example/?q=1&amp;r=2",
        "HTTPS://X.EXAMPLE/",
        "https://xn--ls8h.example/💩",
        "http://x.example/plain-http",
        "https://",
        "javascript:alert(1)",
    ]
)
identifiers = st.text(min_size=1, max_size=40) | st.sampled_from(
    ["3600", "604800", "604801", "86400", "  7200 ", "1_000_000", "٣٦٠٠", "2027-03-31T21:59:59Z"]
)


MISSING = object()


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, the key left out (MISSING), or now and then an explicit null."""
    return mostly(strategy | st.just(MISSING), st.none())


@st.composite
def notice_data(draw: st.DrawFn) -> dict[str, Any]:
    fields = {
        "recipient_fiscal_code": draw(fiscal_codes),
        "notice_number": draw(notice_numbers()),
        "amount_cents": draw(amounts),
        "description": draw(long_text()),
        "payee_fiscal_code": draw(optional(payee_codes)),
        "payee_name": draw(optional(long_text(200) | payee_codes)),
        "due_date": draw(optional(due_dates)),
        "invalid_after_due_date": draw(optional(st.booleans())),
        "category": draw(optional(categories)),
        "iuv": draw(optional(identifiers)),
        "debt_position_id": draw(optional(identifiers | due_dates)),
    }
    return {key: value for key, value in fields.items() if value is not MISSING}


@st.composite
def document_data(draw: st.DrawFn) -> dict[str, Any]:
    fields = {
        "recipient_fiscal_code": draw(fiscal_codes),
        "document_id": draw(identifiers),
        "title": draw(long_text()),
        "category": draw(optional(categories)),
        "download_url": draw(optional(https_urls)),
        "available_until": draw(optional(local_days)),
        "issuer_name": draw(optional(long_text(200))),
    }
    return {key: value for key, value in fields.items() if value is not MISSING}


EVENT_DATA: dict[str, Callable[[], st.SearchStrategy[dict[str, Any]]]] = {
    "payment_notice.issued": notice_data,
    "document.ready": document_data,
}
events = st.sampled_from(sorted(EVENT_DATA)).flatmap(
    lambda kind: st.tuples(st.just(kind), EVENT_DATA[kind]())
)
preferred_languages = st.lists(st.sampled_from(LANGUAGES), unique=True, max_size=4)


def record_of(event_type: str, data: object) -> InputRecord:
    envelope = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": event_type,
        "data": data,
    }
    return InputRecord("in", 0, 0, None, json.dumps(envelope).encode())


def decoded(event_type: str, data: object) -> Event | None:
    try:
        return decode(record_of(event_type, data), TYPES)
    except DecodeError:
        return None


# -- 1. the contract --------------------------------------------------------------------------


def contract_outcomes(
    rules: list[Rule], event_type: str, data: dict[str, Any], languages: list[str]
) -> list[tuple[str, str]]:
    """Decode, route and render one event, holding each result to the contract.

    One (rule, outcome) per matched rule; ("-", why) when no rule got to render.
    """
    event_ = decoded(event_type, data)
    if event_ is None:
        return [("-", "not decoded")]
    try:
        matched = route(rules, event_)
    except RenderError as error:
        return [("-", f"route: RenderError at {error.field}")]
    outcomes = [(rule.name, check_rendered(rule, event_, languages)) for rule in matched]
    return outcomes or [("-", "no rule")]


def kind_of(outcome: str) -> str:
    return "rendered" if outcome.startswith("rendered") else "refused (RenderError)"


# Instants at the ends of datetime's range, which the generator reaches only now and then.
AT_THE_END_OF_TIME = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "notice_number": "302100000000123456",
    "amount_cents": 100,
    "description": "TARI",
    "due_date": "9999-12-31T23:59:59-23:59",
    "category": "TARI",
}
AT_THE_START_OF_TIME = {
    **AT_THE_END_OF_TIME,
    "description": "Canone",
    "due_date": "0001-01-01T00:30:00+23:59",
    "category": "COSAP",
}

CONTRACT = settings(
    max_examples=MAIN_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@CONTRACT
@given(kind_and_data=events, languages=preferred_languages)
@example(kind_and_data=("payment_notice.issued", AT_THE_END_OF_TIME), languages=[])
@example(kind_and_data=("payment_notice.issued", AT_THE_START_OF_TIME), languages=["de_DE"])
def test_every_rendered_payload_is_one_io_accepts(
    kind_and_data: tuple[str, dict[str, Any]],
    languages: list[str],
) -> None:
    outcomes = contract_outcomes(all_rules(), *kind_and_data, languages)
    assume(outcomes != [("-", "not decoded")])  # counted by hypothesis as invalid examples
    for rule, outcome in outcomes:
        event(kind_of(outcome))
        event(f"{rule}: {kind_of(outcome)}")
        event(outcome)


def test_generated_events_reach_every_outcome(
    record_property: Callable[[str, object], None],
) -> None:
    """The generator is not vacuous: many events decode, and both outcomes happen."""
    tally: Counter[str] = Counter()

    @settings(CONTRACT, max_examples=300, database=None)
    @given(kind_and_data=events, languages=preferred_languages)
    def sample(kind_and_data: tuple[str, dict[str, Any]], languages: list[str]) -> None:
        tally["events"] += 1
        for rule, outcome in contract_outcomes(all_rules(), *kind_and_data, languages):
            tally[outcome] += 1
            if rule != "-":
                tally[kind_of(outcome)] += 1
                tally[f"{rule}: {kind_of(outcome)}"] += 1

    sample()

    summary = dict(sorted(tally.items()))
    record_property("render_contract_outcomes", summary)
    print(f"render contract outcomes: {summary}")  # shown with -rP or -s
    rendered, refused = tally["rendered"], tally[kind_of("RenderError")]
    assert tally["not decoded"] <= 0.6 * tally["events"], summary
    assert rendered >= 0.2 * (rendered + refused), summary
    assert refused > 0, summary
    for name in EXAMPLE_NAMES:  # each example rule renders some of the events
        assert tally[f"{name}: rendered"] > 0, summary


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        # Converting these instants to UTC or to Rome's clock leaves datetime's range.
        ("payment_notice.issued", AT_THE_END_OF_TIME),
        ("payment_notice.issued", AT_THE_START_OF_TIME),
        (
            "document.ready",
            {
                "recipient_fiscal_code": "AAAAAA00A00A000A",
                "document_id": "d",
                "title": "Certificato di residenza storico, con le variazioni",
                "available_until": "9999-12-31",
                "download_url": "https://x.example/d",
            },
        ),
    ],
    ids=["due instant at year 9999", "due instant at year 1", "document until year 9999"],
)
def test_dates_at_the_ends_of_the_calendar(event_type: str, data: dict[str, Any]) -> None:
    event_ = decoded(event_type, data)
    assert event_ is not None
    for rule in route(all_rules(), event_):
        check_rendered(rule, event_, [])


# -- 2. each example rule's own example -------------------------------------------------------


@pytest.mark.parametrize(("rule_name", "language"), EXAMPLE_CASES)
def test_each_example_renders_to_a_valid_payload(rule_name: str, language: str) -> None:
    rule = rule_named(example_rules(), rule_name)
    event_ = decoded(rule.spec.event_type, rule.spec.example)
    assert event_ is not None, "the example must decode"
    assert rule in route(example_rules(), event_), "the example must match its own rule"

    body = render(rule, event_, [language]).to_json_body()

    assert io_refusals(body) == [], body
    assert body["fiscal_code"] == rule.spec.example["recipient_fiscal_code"]
    words = rule.spec.translations.get(language, rule.spec.message)
    if "{" not in words.subject:  # a fixed subject: the language's own, word for word
        assert body["content"]["subject"] == words.subject


# -- 3. markdown safety -----------------------------------------------------------------------

INJECTED = "[paga qui](http://x)"
_UNESCAPED_LINK_END = re.compile(r"(?<!\\)((?:\\\\)*)\]\(")


def unescaped_link_ends(markdown: str) -> list[int]:
    """Where `](` appears with its `]` not backslash-escaped (an even run of `\\` before it)."""
    return [match.end(1) for match in _UNESCAPED_LINK_END.finditer(markdown)]


def value_fields(rule: Rule) -> tuple[str, str]:
    """The event type of an example rule, and the free-text field its markdown prints."""
    kind = rule.spec.event_type
    return kind, "description" if kind == "payment_notice.issued" else "title"


def markdown_for(rule: Rule, value: str, language: str) -> str | None:
    kind, field = value_fields(rule)
    data = {**rule.spec.example, field: value}
    data.pop("download_url", None)  # the one deliberate link (a helper's) is not this test's
    event_ = decoded(kind, data)
    if event_ is None:
        return None
    try:
        markdown: str = render(rule, event_, [language]).content.markdown
    except RenderError:
        return None
    return markdown


@pytest.mark.parametrize(("rule_name", "language"), EXAMPLE_CASES)
def test_a_markdown_link_in_an_event_value_stays_text(rule_name: str, language: str) -> None:
    rule = rule_named(example_rules(), rule_name)
    markdown = markdown_for(rule, INJECTED, language)
    assert markdown is not None

    assert "paga qui" in markdown
    for end in (m.start() for m in re.finditer(re.escape("](http"), markdown)):
        backslashes = len(markdown[:end]) - len(markdown[:end].rstrip("\\"))
        assert backslashes % 2 == 1, f"an unescaped ](http at {end}: {markdown!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.text(alphabet=st.characters() | st.sampled_from(MARKUP), max_size=60),
    after=st.text(alphabet=st.characters() | st.sampled_from(MARKUP), max_size=60),
    rule_name=st.sampled_from(EXAMPLE_NAMES),
    language=st.sampled_from(LANGUAGES),
)
def test_no_event_text_makes_a_link_in_markdown(
    before: str, after: str, rule_name: str, language: str
) -> None:
    rule = rule_named(example_rules(), rule_name)
    markdown = markdown_for(rule, before + INJECTED + after, language)
    assume(markdown is not None)
    assert markdown is not None

    assert unescaped_link_ends(markdown) == [], markdown


def test_the_link_helper_is_the_only_way_to_a_link() -> None:
    [rule] = [rule for rule in example_rules() if rule.spec.event_type == "document.ready"]
    data = {**rule.spec.example, "title": INJECTED}
    event_ = decoded("document.ready", data)
    assert event_ is not None

    markdown = render(rule, event_).content.markdown

    [end] = unescaped_link_ends(markdown)
    assert markdown[end:].startswith("](" + data["download_url"] + ")")
