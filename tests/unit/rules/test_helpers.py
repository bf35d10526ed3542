"""The template helpers, with markdown safety checked by rendering with a real renderer.

The renderer is markdown-it-py's "gfm-like" preset: CommonMark plus GFM tables,
strikethrough, raw HTML and linkify-it, which links bare domains and e-mail addresses too.
That is more eager to make links and markup than IO's app, so what it leaves inert is inert.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt
from pydantic import TypeAdapter

from consumer.io.models import Timestamp, format_timestamp
from consumer.rules.helpers import (
    ROME,
    SafeMarkdown,
    due_instant,
    escape_markdown,
    euro,
    finalize_markdown,
    io_due_date,
    italian_date,
    link,
)

MARKDOWN = MarkdownIt("gfm-like")

# Characters and pieces that make markup and links, so that hypothesis tries them often;
# block markers first in a value too, where they would start a list, heading or quote.
MARKUP_ALPHABET = "\\`*_{}[]()#+-.!|<>~&=:;/@ \n\t\r\x0b\x0c\x85\u2028\xa0 01aw:hps"
MARKUP_PIECES = [
    *"\\`*_{}[]()#+-.!|<>~&=:/@ \n\t1a",
    *["www", "http", "https", "mailto:", "://", "example", ".it", ".com", "&amp;", "&#x41;"],
]
BLOCK_STARTS = [
    *["1. ", "1) ", "- ", "+ ", "* ", "# ", "> ", "    ", "```", "~~~", "---", "==="],
    *["<div ", "<script ", "<!-- ", "[x]: "],
]
PIECES = st.lists(st.sampled_from(MARKUP_PIECES), max_size=30).map("".join)
VALUES = st.one_of(
    st.text(),
    st.text(alphabet=MARKUP_ALPHABET),
    PIECES,
    st.tuples(st.sampled_from(BLOCK_STARTS), PIECES).map("".join),
)


class Html(HTMLParser):
    """What a browser would make of rendered HTML: its tags, links and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str | None] = []
        self.text = ""
        self.link_text = ""
        self.cells: list[str] = []
        self._in_link = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))
            self._in_link += 1
        if tag == "td":
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link -= 1

    def handle_data(self, data: str) -> None:
        self.text += data
        if self.tags and self.tags[-1] == "td":
            self.cells[-1] += data
        if self._in_link:
            self.link_text += data


def render(markdown: str) -> Html:
    html = Html()
    html.feed(MARKDOWN.render(markdown))
    html.close()
    return html


def one_line(value: str) -> str:
    """What escape_markdown promises to keep: the text, on one line, spaces collapsed."""
    spaced = "".join(
        " " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char for char in value
    )
    return re.sub(" +", " ", spaced).strip(" ")


# euro


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (1234567, "12.345,67\xa0€"),
        (5, "0,05\xa0€"),
        (100, "1,00\xa0€"),
        (9_999_999_999, "99.999.999,99\xa0€"),
        (-250, "-2,50\xa0€"),
    ],
)
def test_euro_reads_as_italians_write_amounts(cents: int, text: str) -> None:
    assert euro(cents) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_euro_says_what_babel_says_for_it_it(cents: int) -> None:
    """euro() writes CLDR's it_IT pattern out by hand, for speed: Babel stays the oracle."""
    assert euro(cents) == format_currency(Decimal(cents) / 100, "EUR", locale="it_IT")


@pytest.mark.parametrize("amount", [True, 12.5, "1250", Decimal(1250), None])
def test_euro_refuses_anything_but_integer_cents(amount: object) -> None:
    with pytest.raises(TypeError, match="integer cents"):
        euro(amount)  # type: ignore[arg-type]


# italian_date


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("long", "31 marzo 2027"),
        ("short", "31/03/27"),
        ("medium", "31 mar 2027"),
        ("full", "mercoledì 31 marzo 2027"),
    ],
)
def test_italian_date_in_each_style(style: str, text: str) -> None:
    assert italian_date(date(2027, 3, 31), style) == text


def test_italian_date_defaults_to_the_long_style() -> None:
    assert italian_date(date(2027, 1, 1)) == "1 gennaio 2027"


def test_italian_date_reads_an_instant_on_romes_clock() -> None:
    late_in_utc = datetime(2027, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 April in Rome

    assert italian_date(late_in_utc) == "1 aprile 2027"
    assert italian_date(datetime(2027, 12, 31, 22, 59, tzinfo=UTC)) == "31 dicembre 2027"


def test_italian_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="time zone"):
        italian_date(datetime(2027, 3, 31, 12, 0))


def test_italian_date_refuses_an_unknown_style() -> None:
    with pytest.raises(ValueError, match="'lnog'"):
        italian_date(date(2027, 3, 31), "lnog")


def test_iso_strings_of_operator_types_are_read_as_dates() -> None:
    assert italian_date("2027-03-31") == "31 marzo 2027"
    assert io_due_date("2027-03-31") == "2027-03-31T21:59:59.000Z"
    assert italian_date("2027-03-31T23:30:00+00:00") == "1 aprile 2027"  # Rome is ahead of UTC
    with pytest.raises(ValueError, match="not an ISO-8601 date"):
        italian_date("31/03/2027")


# due_instant, io_due_date


@pytest.mark.parametrize(
    ("day", "timestamp", "rome_offset"),
    [
        pytest.param(date(2024, 3, 31), "2024-03-31T21:59:59.000Z", 2, id="dst-starts-that-day"),
        pytest.param(date(2027, 10, 31), "2027-10-31T22:59:59.000Z", 1, id="dst-ends-that-day"),
        pytest.param(date(2027, 1, 15), "2027-01-15T22:59:59.000Z", 1, id="winter"),
        pytest.param(date(2027, 7, 15), "2027-07-15T21:59:59.000Z", 2, id="summer"),
        pytest.param(date(2027, 12, 31), "2027-12-31T22:59:59.000Z", 1, id="new-years-eve"),
    ],
)
def test_a_due_day_ends_at_235959_in_rome(day: date, timestamp: str, rome_offset: int) -> None:
    instant = due_instant(day)

    assert io_due_date(day) == timestamp
    assert instant.tzinfo is UTC
    local = instant.astimezone(ROME)
    assert (local.date(), local.time()) == (day, time(23, 59, 59))
    assert local.utcoffset() == timedelta(hours=rome_offset)


def test_an_aware_instant_keeps_its_moment() -> None:
    given_instant = datetime(2027, 3, 31, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))

    assert due_instant(given_instant) == given_instant
    assert due_instant(given_instant).tzinfo is UTC
    assert io_due_date(given_instant) == "2027-03-31T07:00:00.123Z"
    assert io_due_date(datetime(2027, 3, 31, 10, 0, tzinfo=ROME)) == "2027-03-31T08:00:00.000Z"


def test_a_naive_due_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        due_instant(datetime(2027, 3, 31, 23, 59, 59))
    with pytest.raises(ValueError, match="time zone"):
        io_due_date(datetime(2027, 3, 31, 23, 59, 59))


@settings(max_examples=300)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_every_due_day_lands_inside_that_local_day(day: date) -> None:
    stamp = io_due_date(day)

    assert TypeAdapter(Timestamp).validate_python(stamp) == stamp
    local = datetime.fromisoformat(stamp).astimezone(ROME)
    assert (local.date(), local.time()) == (day, time(23, 59, 59))


# escape_markdown


def test_a_link_in_an_event_value_stays_text() -> None:
    value = "[paga qui](http://x)"

    html = render(escape_markdown(value))

    assert "<a" not in MARKDOWN.render(escape_markdown(value))
    assert html.tags == ["p"]
    assert html.text.strip() == "[paga qui](http://x)"


HOSTILE_VALUES = [
    "[paga qui](http://x)",
    "![logo](https://evil.example/x.png)",
    "<https://evil.example>",
    "<a href='https://evil.example'>paga</a>",
    "<img src=x onerror=alert(1)>",
    "<div onclick=alert(1)",
    "<script src=https://evil.example/x.js",
    "<!-- commento",
    "https://evil.example/paga",
    "HTTP://EVIL.EXAMPLE",
    "www.evil.example",
    "vai su evil.example e paga",
    "scrivi a mario.rossi@example.com",
    "mailto:a@b.it",
    "//evil.example",
    "127.0.0.1",
    "[paga][1]\n\n[1]: https://evil.example",
    "# Titolo",
    "Titolo\n======",
    "- voce",
    "+ voce",
    "* voce",
    "1. voce",
    "1) voce",
    "> citazione",
    "```\ncodice\n```",
    "~~~",
    "`codice`",
    "    indentato",
    "\t\tindentato",
    "*enfasi* **forte** _x_ __y__",
    "~~barrato~~",
    "| a | b |\n| --- | --- |",
    "---",
    "***",
    "&amp; &#x41; &copy;",
    "riga\\",
    "riga  \naltra",
    "a\x00b\x7fc\x85d\u2028e\u2029f\rg\x0bh\x0ci",
    "{.classe}",
    "[^nota]",
    "- [ ] compito",
    "12.345,67\xa0€",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_markup_in_an_event_value_stays_text(value: str) -> None:
    html = render(escape_markdown(value))

    assert html.tags == ["p"]
    assert html.text.strip() == one_line(value)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("www.evil.example", "www\\.evil\\.example"),
        ("https://x", "https\\://x"),
        ("a\n\n# b", "a \\# b"),
        ("  due   spazi\t", "due spazi"),
        ("12.345,67\xa0€", "12\\.345,67\xa0€"),
        ("Mario Rossi", "Mario Rossi"),
        ("", ""),
    ],
)
def test_escape_markdown_output(value: str, escaped: str) -> None:
    assert escape_markdown(value) == escaped


def test_escape_markdown_takes_any_value_as_its_text() -> None:
    assert escape_markdown(12.5) == "12\\.5"
    assert escape_markdown(date(2027, 3, 31)) == "2027\\-03\\-31"
    assert escape_markdown(SafeMarkdown("[x](https://y)")) == "\\[x\\]\\(https\\://y\\)"


TEXT_CONTEXTS = [
    "{}",
    "Gentile cittadino, {} è dovuto.",
    "Prima riga\n{}\nUltima riga",
    "Introduzione\n\n{}\n\nFine",
    "**Causale:** {}",
]


@settings(max_examples=500)
@given(VALUES)
def test_no_event_value_makes_markup_anywhere_in_running_text(value: str) -> None:
    escaped = escape_markdown(value)

    for context in TEXT_CONTEXTS[:4]:
        assert set(render(context.format(escaped)).tags) <= {"p"}, context
    assert render(TEXT_CONTEXTS[4].format(escaped)).tags == ["p", "strong"]


@settings(max_examples=500)
@given(VALUES)
def test_an_escaped_value_reads_as_the_original(value: str) -> None:
    """Exact mid-paragraph; at a paragraph's ends the renderer trims Unicode spaces itself."""
    escaped = escape_markdown(value)

    alone = render(escaped).text
    inline = render(f"Gentile cittadino, {escaped} è dovuto.").text

    assert alone.strip() == one_line(value).strip()
    assert inline == f"Gentile cittadino, {one_line(value)} è dovuto.\n"


@settings(max_examples=300)
@given(VALUES, VALUES)
def test_values_side_by_side_make_no_markup(first: str, second: str) -> None:
    html = render(f"Riga\n{escape_markdown(first)}{escape_markdown(second)}\nRiga")

    assert set(html.tags) <= {"p"}


@settings(max_examples=300)
@given(VALUES)
def test_a_value_stays_in_its_table_cell(value: str) -> None:
    html = render(f"| voce | importo |\n| --- | --- |\n| {escape_markdown(value)} | 1 |")

    assert set(html.tags) == {"table", "thead", "tbody", "tr", "th", "td"}
    assert [cell.strip() for cell in html.cells] == [one_line(value).strip(), "1"]


# finalize_markdown


def test_finalize_passes_safe_markdown_and_escapes_the_rest() -> None:
    safe = SafeMarkdown("**voluto**")

    assert finalize_markdown(safe) is safe
    assert finalize_markdown(None) == ""
    assert finalize_markdown("**no**") == "\\*\\*no\\*\\*"
    assert finalize_markdown(18750) == "18750"


def markdown_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, finalize=finalize_markdown
    )
    env.filters.update(euro=euro, italian_date=italian_date)
    env.globals["link"] = link
    return env


def test_a_markdown_template_escapes_event_data_but_keeps_helper_links() -> None:
    template = markdown_environment().from_string(
        "**{{ causale }}**: {{ cents | euro }} entro il {{ due | italian_date }}.{{ none }}\n\n"
        "{{ link(url, 'Paga sul portale') }}"
    )

    text = template.render(
        causale="TARI [paga qui](http://x)",
        cents=18750,
        due=date(2027, 3, 31),
        none=None,
        url="https://portale.example/avvisi/1",
    )

    assert text == (
        "**TARI \\[paga qui\\]\\(http\\://x\\)**: 187,50\xa0€ entro il 31 marzo 2027.\n\n"
        "[Paga sul portale](https://portale.example/avvisi/1)"
    )
    html = render(text)
    assert html.hrefs == ["https://portale.example/avvisi/1"]
    assert html.link_text == "Paga sul portale"


def test_a_helper_link_changed_by_the_template_is_escaped_again() -> None:
    template = markdown_environment().from_string("{{ link(url, 'Paga') ~ '!' }}")

    html = render(template.render(url="https://portale.example/"))

    assert html.tags == ["p"]
    assert html.text.strip() == "[Paga](https://portale.example/)!"


# link


def test_link_builds_a_markdown_link() -> None:
    made = link("https://portale.example/avvisi?id=1", "Vai al portale")

    assert made == "[Vai al portale](https://portale.example/avvisi?id=1)"
    assert isinstance(made, SafeMarkdown)
    html = render(made)
    assert html.hrefs == ["https://portale.example/avvisi?id=1"]
    assert html.link_text == "Vai al portale"


def test_link_writes_the_scheme_in_lower_case() -> None:
    assert link("HTTPS://Portale.example/X", "x") == "[x](https://Portale.example/X)"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://portale.example/", "https"),
        ("javascript:alert(1)//https://x", "https"),
        ("//portale.example/", "https"),
        (" https://portale.example/", "https"),
        ("https://", "no host"),
        ("https:///path", "no host"),
        ("https://[::1/", "valid URL"),
        ("https://portale.example/a\nb", "line break"),
        ("https://portale.example/a\x00", "control character"),
    ],
)
def test_link_refuses_what_is_not_a_plain_https_url(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        link(url, "testo")


@pytest.mark.parametrize("text", ["", "  ", "\n\t"])
def test_link_refuses_a_link_nobody_can_see(text: str) -> None:
    with pytest.raises(ValueError, match="visible text"):
        link("https://portale.example/", text)


def test_link_refuses_what_is_not_a_string() -> None:
    with pytest.raises(TypeError, match="strings"):
        link("https://portale.example/", 3)  # type: ignore[arg-type]


def assert_one_link(made: SafeMarkdown, url: str, text: str) -> None:
    html = render(made)
    assert html.tags == ["p", "a"]
    [href] = html.hrefs
    assert href is not None
    assert href.startswith("https://")
    assert unquote(href) == unquote(url)
    assert html.link_text == one_line(text)


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("https://portale.example/a) [evil](https://evil.example", "paga [qui](http://x)"),
        ("https://portale.example/<script>", "<b>grassetto</b>"),
        ('https://portale.example/x "titolo"', "**forte**"),
        ("https://portale.example/a\\)b", "![img](https://evil.example/x.png)"),
        ("https://portale.example/?a=1&amp;b=2&copy=3", "a &amp; b"),
        ("https://portale.example/avviso TARI.pdf", "www.evil.example"),
        ("https://portale.example/((a)", "]("),
    ],
)
def test_hostile_url_or_text_still_make_exactly_the_intended_link(url: str, text: str) -> None:
    assert_one_link(link(url, text), url, text)


@settings(max_examples=300)
@given(
    st.text(st.characters(exclude_categories=("Cc", "Zl", "Zp", "Cs"))),
    VALUES.filter(lambda text: one_line(text) != ""),
)
def test_any_path_and_text_make_exactly_one_link(path: str, text: str) -> None:
    url = f"https://portale.example/{path}"

    assert_one_link(link(url, text), url, text)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_a_remembered_date_reads_as_a_fresh_one(day: date) -> None:
    """Due dates are remembered once turned into words and instants: the second answer is
    the first, for a date, its ISO string and an instant alike."""
    for value in (day, day.isoformat(), datetime.combine(day, time(12), tzinfo=UTC)):
        first, again = italian_date(value, "short"), italian_date(value, "short")
        assert first == again == format_date(day, format="short", locale="it_IT")
        fresh = format_timestamp(due_instant(value))  # due_instant is never remembered
        assert io_due_date(value) == io_due_date(value) == fresh


def test_the_second_pass_of_a_clock_change_is_its_own_instant() -> None:
    """02:30 on 25 October 2026 happens twice in Rome; Python holds the two equal, with one
    hash, so a cache would answer the second with the first's instant, an hour off."""
    rome = ZoneInfo("Europe/Rome")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=rome)
    second = first.replace(fold=1)

    assert io_due_date(first) == "2026-10-25T00:30:00.000Z"
    assert io_due_date(second) == "2026-10-25T01:30:00.000Z"


@pytest.mark.parametrize("value", [["2027-03-31"], {"day": "2027-03-31"}])
def test_a_date_that_cannot_be_remembered_still_gets_its_reason(value: object) -> None:
    with pytest.raises(TypeError, match="expected a date or a date-time"):
        italian_date(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a date or a date-time"):
        io_due_date(value)  # type: ignore[arg-type]
