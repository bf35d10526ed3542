"""No fiscal code, in any spelling, in what the pipeline writes about an event.

Hypothesis draws events of the built-in types and of an operator-added one (a JSON Schema
in a folder, as `events.schema_dirs` names it), with fiscal codes in many spellings, valid
and not, in the recipient and in the other fields. Each event runs through the real decode,
route, render and deliver (the IO sandbox in process, over httpx.ASGITransport) and the
real handler, into a sink. Then no status record, DLQ header, log line (the relay's JSON
logging at DEBUG) or /metrics line may hold 15 characters in a row of any code, once case
and separators are set aside. Only the message sent to IO and the original event may.

Not drawn, because masking does not claim them (see consumer/redact.py): a code glued
inside a longer token, and a code spelled with separators that has fewer than four digits
left after omocodia.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import re
import string
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from stdnum.it import codicefiscale

from consumer.config import Settings
from consumer.events import EventTypes, InputRecord
from consumer.io import IoClient
from consumer.io.models import FISCAL_CODE_PATTERN
from consumer.observability import Metrics
from consumer.observability.logging import configure_logging
from consumer.redact import mask_fiscal_code
from consumer.report.dlq import HEADER_PREFIX
from consumer.rules import Rule
from consumer.runtime.app import account_limiters, deliverer, load_contracts
from consumer.runtime.drain import Jobs
from consumer.runtime.handle import Handler
from consumer.runtime.ledger import Ledger
from consumer.runtime.process import EventProcessor
from consumer.sandbox.app import create_app
from consumer.sandbox.settings import SandboxSettings
from tests.unit.runtime.fakes import FakeSink, MemoryStatusLog

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
OPERATOR_TYPE = "tari.reminder"
OPERATOR_SCHEMA: dict[str, Any] = {
    "x-io-relay-event-type": OPERATOR_TYPE,
    "type": "object",
    "required": ["recipient_fiscal_code", "kind", "note"],
    "additionalProperties": False,
    "properties": {
        "recipient_fiscal_code": {"type": "string", "pattern": FISCAL_CODE_PATTERN},
        "kind": {"enum": ["tari", "imu"]},
        "note": {"type": "string", "minLength": 1, "maxLength": 80},
        "amount_cents": {"type": "integer", "minimum": 1},
    },
}
OPERATOR_RULES = {
    "rules": [
        {
            "name": "tari-reminder",
            "event_type": OPERATOR_TYPE,
            "service": "tari",
            "message": {
                "subject": "Promemoria {{ data.kind | upper }}",
                "markdown": (
                    "Gentile contribuente, le ricordiamo la scadenza del tributo. "
                    "Nota dell'ufficio: {{ data.note }}. Cordiali saluti dal Comune di Demo."
                ),
            },
            "example": {
                "recipient_fiscal_code": "AAAAAA00A00A000A",
                "kind": "tari",
                "note": "seconda rata",
            },
        }
    ]
}

# The sandbox codes the example rules use: IO's pattern, but not a real check character.
EXAMPLE_CODES = ["AAAAAA00A00A000A", "BBBBBB00B00B000B"]
LETTERS = string.ascii_uppercase
OMOCODIA = "LMNPQRSTUV"  # the letter that stands for each digit
DIGIT_PLACES = (6, 7, 9, 10, 12, 13, 14)
SEPARATORS = (" ", "-", ".", "_")
MONTHS = "ABCDEHLMPRST"


def full_code(body: str) -> str:
    return body + codicefiscale.calc_check_digit(body)


# Citizens the sandbox knows: four who receive, one who blocked the sender; the last has no
# profile. All pass the strict check, so every outcome of a delivery can be drawn.
POOL = tuple(
    full_code(body)
    for body in (
        "RSSMRA85T10A562",
        "VRDGPP80A01H501",
        "BNCLCU92M41F205",
        "NREPLA77C15L219",
        "GLLMRC66D52G273",
        "FRRNNA01E45A944",
    )
)


@st.composite
def codes(draw: st.DrawFn) -> str:
    """A code the Agenzia delle Entrate could issue: check character right, omocodia in up
    to three digits (with four digits left, a spaced spelling is still masked)."""
    body = (
        draw(st.text(LETTERS, min_size=6, max_size=6))
        + f"{draw(st.integers(0, 99)):02d}"
        + draw(st.sampled_from(MONTHS))
        + f"{draw(st.integers(1, 28)) + draw(st.sampled_from([0, 40])):02d}"
        + draw(st.sampled_from(LETTERS))
        + f"{draw(st.integers(0, 999)):03d}"
    )
    chars = list(body)
    for place in draw(st.permutations(DIGIT_PLACES))[: draw(st.integers(0, 3))]:
        chars[place] = OMOCODIA[int(chars[place])]
    return full_code("".join(chars))


def _typo(code: str, place: int, seed: int) -> str:
    alphabet = string.digits if code[place].isdigit() else LETTERS
    other = alphabet[(alphabet.index(code[place]) + 1 + seed % (len(alphabet) - 1)) % len(alphabet)]
    return code[:place] + other + code[place + 1 :]


ANY_CHARACTER = LETTERS + string.digits


def _characters(draw: st.DrawFn, code: str, form: str) -> str:
    if form == "short":
        return code[:15]
    if form == "long":
        return code + draw(st.sampled_from(ANY_CHARACTER))
    if form == "prefixed":
        return draw(st.sampled_from(ANY_CHARACTER)) + code
    if form == "wrong check":
        return code[:15] + _typo(code, 15, draw(st.integers(0, 24)))[15]
    if form == "typo":
        return _typo(code, draw(st.integers(0, 14)), draw(st.integers(0, 24)))
    return code


def _case(draw: st.DrawFn, code: str, case: str) -> str:
    if case == "lower":
        return code.lower()
    if case == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(code), max_size=len(code)))
        return "".join(c.lower() if flip else c for c, flip in zip(code, flips, strict=True))
    return code


def _separated(draw: st.DrawFn, code: str, separator: str | None, form: str) -> str:
    if separator is None:
        return code
    if not draw(st.booleans()):  # between every character
        return separator.join(code)
    # Between groups, as people write it; a prefixed character stands apart.
    start = 1 if form == "prefixed" else 0
    cuts = [0, *(start + cut for cut in (3, 6, 11, 15)), len(code)]
    if start:
        cuts.insert(1, 1)
    groups = [code[begin:end] for begin, end in itertools.pairwise(cuts)]
    return separator.join(group for group in groups if group)


@st.composite
def spellings(draw: st.DrawFn, code: str) -> tuple[str, str]:
    """(how it is spelled, the spelling) of `code`: its characters, then its case, then its
    separators, each changed or not."""
    form = draw(st.sampled_from(["whole", "short", "long", "prefixed", "wrong check", "typo"]))
    case = draw(st.sampled_from(["upper", "lower", "mixed"]))
    separator = draw(st.sampled_from([None, *SEPARATORS]))
    spelled = _separated(draw, _case(draw, _characters(draw, code, form), case), separator, form)
    return f"{form}, {case}, {separator or 'no'} separator", spelled


# Where a spelling goes, per type: into a field (in prose for free text), or as a field name.
PLACES: dict[str, dict[str, Callable[[str], object]]] = {
    "payment_notice.issued": {
        "recipient_fiscal_code": str,
        "description": lambda s: f"TARI 2026 intestata a {s}, prima rata",
        "payee_name": lambda s: f"Comune di Demo per {s}",
        "notice_number": str,
        "due_date": str,
        "category": str,
        "iuv": str,
        "debt_position_id": str,
        "amount_cents": str,
    },
    "document.ready": {
        "recipient_fiscal_code": str,
        "title": lambda s: f"Certificato di residenza di {s}",
        "document_id": str,
        "issuer_name": str,
        "download_url": lambda s: f"https://{s}.example/certificato",
        "available_until": str,
        "category": str,
    },
    OPERATOR_TYPE: {
        "recipient_fiscal_code": str,
        "note": lambda s: f"rata intestata a {s}",
        "kind": str,
        "amount_cents": str,
    },
}
# Or into the envelope: its subject, its id (the upstream's key), its type (then unknown).
ENVELOPE_PLACES = {"subject": "subject", "event id": "id", "event type": "type"}
BASE_DATA: dict[str, dict[str, Any]] = {
    "payment_notice.issued": {
        "notice_number": "302100000000123456",
        "amount_cents": 18750,
        "description": "TARI 2026, prima rata",
        "category": "TARI",
    },
    "document.ready": {
        "document_id": "CERT-2026-000123",
        "title": "Certificato di residenza",
        "download_url": "https://documenti.comune-demo.example/certificati/CERT-2026-000123",
    },
    OPERATOR_TYPE: {"kind": "tari", "note": "seconda rata"},
}


@dataclass(frozen=True)
class Drawn:
    event: dict[str, Any]
    codes: tuple[str, ...]
    """Every code the event holds, as drawn (before spelling) and as spelled."""
    label: str


def make_event(
    event_type: str,
    *,
    recipient: str,
    code: str,
    spelling: tuple[str, str],
    place: str,
    event_id: str,
    skipped: bool = False,
) -> Drawn:
    """An event of `event_type` for `recipient`, with `code` spelled into `place`."""
    how, spelled = spelling
    data = {**BASE_DATA[event_type], "recipient_fiscal_code": recipient}
    if skipped:
        data["category"] = "internal"  # the example rules skip these documents
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:comune-demo:tributi",
        "type": event_type,
    }
    if place == "field name":
        data[spelled] = "x"
    elif place in ENVELOPE_PLACES:
        envelope[ENVELOPE_PLACES[place]] = spelled
    else:
        data[place] = PLACES[event_type][place](spelled)
    envelope["data"] = data
    return Drawn(envelope, (recipient, code, spelled), f"{event_type} {place}: {how}")


@st.composite
def events(draw: st.DrawFn) -> Drawn:
    event_type = draw(st.sampled_from(sorted(PLACES)))
    code = draw(st.one_of(st.sampled_from(POOL), codes()))
    return make_event(
        event_type,
        recipient=draw(st.sampled_from(POOL)),
        code=code,
        spelling=draw(spellings(code)),
        place=draw(st.sampled_from([*PLACES[event_type], "field name", *ENVELOPE_PLACES])),
        event_id=f"ev-{draw(st.uuids()).hex}",
        skipped=event_type == "document.ready" and draw(st.booleans()),
    )


def _always(number: int, **choices: Any) -> Drawn:
    code = choices.pop("code", POOL[1])
    spelling = choices.pop("spelling", ("whole, upper, no separator", code))
    return make_event(
        choices.pop("event_type", "document.ready"),
        recipient=choices.pop("recipient", POOL[0]),
        code=code,
        spelling=spelling,
        place=choices.pop("place", "title"),
        event_id=f"ev-always-{number}",
        **choices,
    )


# Run on every run, whatever hypothesis draws: the rarer outcomes, so that each kind of
# output the test searches is sure to be written at least once.
ALWAYS = (
    _always(1, place="download_url"),  # link() to the code as host: a render error
    _always(2, place="download_url", spelling=("whole, lower", POOL[1].lower())),
    _always(3, recipient=POOL[4]),  # the citizen blocked the sender
    _always(4, recipient=POOL[5]),  # no IO profile
    _always(5, skipped=True),
    _always(6, place="recipient_fiscal_code", spelling=("short", POOL[1][:15])),
    _always(7, place="event type", spelling=("prefixed", "1" + POOL[1])),
    _always(8, place="event id", spelling=("whole, lower", POOL[1].lower())),
)


def windows(code: str) -> set[str]:
    """Every 15 characters in a row of `code`, upper case, without separators."""
    plain = normalized(code)
    return {plain[i : i + 15] for i in range(len(plain) - 14)}


def normalized(text: str) -> str:
    return re.sub(r"[ \-._]", "", text.upper())


def leaks(outputs: dict[str, list[str]], codes: tuple[str, ...]) -> list[str]:
    found = []
    for name, texts in outputs.items():
        for text in texts:
            plain = normalized(text)
            for code in codes:
                if any(window in plain for window in windows(code)):
                    found.append(f"{name}: {text}")
    return found


@contextmanager
def relay_log() -> Iterator[io.StringIO]:
    """The relay's own logging (JSON, fiscal codes masked) at DEBUG, into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("httpx").level)
    configure_logging("DEBUG")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("httpx").setLevel(saved[2])


@dataclass(frozen=True)
class Contracts:
    settings: Settings
    types: EventTypes
    rules: list[Rule]


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Contracts]:
    """The relay's settings, types and rules, loaded as at start: by strictness of the
    fiscal code check (strict also refuses a wrong check character)."""
    folder = tmp_path_factory.mktemp("contracts")
    (folder / "schemas").mkdir()
    (folder / "schemas" / "tari.reminder.schema.json").write_text(json.dumps(OPERATOR_SCHEMA))
    (folder / "rules").mkdir()
    (folder / "rules" / "reminders.yaml").write_text(yaml.safe_dump(OPERATOR_RULES))
    loaded = {}
    for strict in (False, True):
        settings = Settings.model_validate(
            {
                "io": {
                    "base_url": "http://sandbox",
                    "accounts": {"comune-demo": {"calls": 1_000_000, "per_seconds": 1}},
                    "services": {
                        name: {"account": "comune-demo", "key": f"key-{name}"}
                        for name in ("tari", "tributi", "documenti")
                    },
                },
                "rules": {"paths": [str(REPO / "examples" / "rules"), str(folder / "rules")]},
                "events": {
                    "schema_dirs": [str(folder / "schemas")],
                    "fiscal_codes": {"strict": strict, "allow": EXAMPLE_CODES},
                },
            }
        )
        types, rules = load_contracts(settings)
        loaded[strict] = Contracts(settings, types, rules)
    return loaded


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "profiles.yaml"
    citizens: dict[str, dict[str, bool]] = {code: {"sender_allowed": True} for code in POOL[:4]}
    citizens[POOL[4]] = {"sender_allowed": False}
    path.write_text(yaml.safe_dump(citizens))
    return path


@dataclass
class Written:
    outputs: dict[str, list[str]]
    outcomes: list[str]
    dlq_stages: list[str]


async def run_one(contracts: Contracts, sandbox: SandboxSettings, drawn: Drawn) -> Written:
    """The event through the pipeline, as the relay wires it; what it wrote, by output."""
    metrics = Metrics()
    transport = httpx.ASGITransport(app=create_app(sandbox))
    client = IoClient("http://sandbox", observer=metrics, transport=transport)
    io_settings = contracts.settings.io
    processor = EventProcessor(
        contracts.types,
        contracts.rules,
        deliverer(io_settings, client, account_limiters(io_settings)),
        observer=metrics,
    )
    sink = FakeSink(MemoryStatusLog())
    handler = Handler(
        processor=processor,
        sink=sink,
        ledger=Ledger(),
        jobs=Jobs(4),
        observer=metrics,
        tracking=None,
    )
    record = InputRecord("events", 0, 7, b"key", json.dumps(drawn.event).encode())
    with relay_log() as log:
        handled = await handler.record(record, "lane", lambda: True)
    await client.aclose()
    assert handled.done
    (report,) = sink.reports
    dead = report.dead
    headers = [f"{name}: {value.decode()}" for name, value in (dead.headers if dead else ())]
    assert dead is None or dead.value == record.value  # the original event, untouched
    return Written(
        outputs={
            "status record": [raw.decode() for raw in sink.log.partitions[0]],
            "DLQ header": headers,
            "log": log.getvalue().splitlines(),
            "/metrics": generate_latest(metrics.registry).decode().splitlines(),
        },
        outcomes=[status.outcome.value for status in report.statuses],
        dlq_stages=[v.decode() for n, v in (dead.headers if dead else ()) if n == STAGE_HEADER],
    )


def always_examples(test: Callable[..., None]) -> Callable[..., None]:
    for drawn in ALWAYS:
        test = example(drawn=drawn, strict=False)(test)
    return test


STAGE_HEADER = HEADER_PREFIX + "stage"
SEEN: Counter[str] = Counter()


def test_no_fiscal_code_in_records_dlq_headers_log_or_metrics(
    contracts: dict[bool, Contracts], profiles: Path
) -> None:
    sandbox = SandboxSettings(profiles=profiles, rate_limit=None)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(drawn=events(), strict=st.booleans())
    @always_examples
    def property_holds(drawn: Drawn, strict: bool) -> None:
        written = asyncio.run(run_one(contracts[strict], sandbox, drawn))
        assert leaks(written.outputs, drawn.codes) == [], drawn.label
        SEEN.update(written.outcomes)
        SEEN[drawn.event["id"]] += 1
        SEEN.update(f"dlq {stage}" for stage in written.dlq_stages)
        SEEN.update({f"{drawn.event['type']} placed", "lines"} if written.outputs["log"] else {})

    property_holds()
    # Not vacuous: the drawn events reached every kind of outcome and both kinds of dead
    # letter, and each output held something to search.
    assert {
        "SUBMITTED",
        "INVALID",
        "SKIPPED",
        "NOT_SENT_PROFILE_NOT_FOUND",
        "NOT_SENT_SENDER_NOT_ALLOWED",
        "dlq decode",
        "dlq render",
    } <= set(SEEN), SEEN
    assert all(SEEN[f"{event_type} placed"] > 10 for event_type in PLACES), SEEN
    assert all(SEEN[drawn.event["id"]] for drawn in ALWAYS)


def test_the_leak_check_finds_a_code_in_any_spelling() -> None:
    """The check itself, against text that does hold the code."""
    code = POOL[0]
    for text in [code, code.lower(), " ".join(code), "-".join(code[:15]), f"x {code[1:]} y"]:
        assert leaks({"log": [text]}, (code,)) == [f"log: {text}"]
    assert leaks({"log": [mask_fiscal_code(code), code[:14]]}, (code,)) == []
