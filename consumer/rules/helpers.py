"""What rule templates call: Italian amounts and dates, IO's field forms, and markdown safety.

The markdown helpers keep event data inert. IO renders a message's markdown in the app, so a
value from an event (a description, a payee name) could otherwise add links, headings or
images to a citizen's message: every value is escaped into plain text on its way in, unless
it is a `SafeMarkdown` that a helper here built on purpose.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date

from consumer.io.models import format_timestamp
from consumer.pagopa import notice_number

__all__ = [
    "SafeMarkdown",
    "due_instant",
    "escape_markdown",
    "euro",
    "finalize_markdown",
    "io_due_date",
    "italian_date",
    "link",
    "link_host",
    "notice_number",
]

ROME = ZoneInfo("Europe/Rome")
# Due dates repeat (one per instalment of a tax, for every citizen): each is turned into its
# words and its instant once, not at every message (Babel and the zone change took ~6 µs
# each, a quarter of a TARI render). Only for the types a template can hold and hash.
_REMEMBER = 4096
_REMEMBERED = frozenset({date, datetime, str})


def _rememberable(value: object) -> bool:
    """Whether a cache keyed on `value` gives its own answer back.

    Only exact types whose equality is their meaning, and no second pass of a clock's fold:
    Python holds 02:30 fold=0 and fold=1 on Rome's clock equal and of one hash, an hour apart.
    """
    return type(value) in _REMEMBERED and not getattr(value, "fold", 0)


LOCALE = Locale.parse("it_IT")
"""Parsed once: Babel parses a locale given by name at every call (15 µs of a 42 µs euro())."""
DATE_STYLES = frozenset({"short", "medium", "long", "full"})

# The last second of a local day. Europe/Rome changes its clocks between 02:00 and 03:00, so
# 23:59:59 always exists exactly once: no DST gap or fold to resolve.
END_OF_DAY = time(23, 59, 59)

# ASCII punctuation that opens or closes markup in CommonMark or its common extensions (GFM
# tables, strikethrough and autolinks; attribute lists), escaped wherever it appears, which
# CommonMark allows for any ASCII punctuation, so the text reads the same:
#   \ ` * _ [ ] ( ) ! < > &   backslash escapes, code, emphasis, links, images, HTML, entities
#   # + - = . | ~ { }         headings, list markers, setext underlines, tables, strikethrough
#   . :                       links found in plain text: "www.", "http://", and linkifiers'
#                             bare domains, e-mail addresses and "mailto:" schemes
# Both "." and ":" go everywhere, not just after a leading number or before "//": two values
# side by side ("1" then ". x") still make "1. x", and linkify-it links "mailto:a@b" and
# "example.com" too. An escape splits the text where linkifiers look, so they find nothing.
_MARKUP = re.compile(r"[\\`*_\[\]()!<>&#+\-=.|~{}:]")
# Control characters (C0, DEL, C1 with NEL) and Unicode line/paragraph separators end lines
# somewhere; runs of spaces make indented code blocks and hard line breaks. HTML shows any
# run as one space anyway, so nothing visible is lost. No-break spaces stay: euro() uses one.
_CONTROL_CHARS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_LINE_BREAKING = re.compile(f"[ {_CONTROL_CHARS}]+")
# What may not appear raw in a link destination: it would end it or break out of it.
_URL_BREAKING = re.compile(r"[\s()<>\\]")
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")


def euro(cents: int) -> str:
    """Cents as Italians read an amount: 1234567 → '12.345,67 €' (a no-break space)."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"euro() takes an amount in integer cents, not {type(cents).__name__}")
    # CLDR's it_IT currency pattern, `#,##0.00 ¤`, written out: Babel's general formatter
    # took 17 µs a call (tests/unit/rules/test_helpers.py holds this to Babel's answer).
    units, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}{units:,}".replace(",", ".") + f",{rest:02d}\u00a0€"


def _parsed(value: date | datetime | str) -> date | datetime:
    """Operator-added event types reach templates as JSON: their dates are ISO strings."""
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 date or date-time") from None


def _local_date(value: date | datetime | str) -> date:
    """The day a citizen in Italy sees: an instant is read on Rome's clock, not UTC's."""
    value = _parsed(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time without a time zone is ambiguous; give its offset")
        return value.astimezone(ROME).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or a date-time, not {type(value).__name__}")


def italian_date(value: date | datetime | str, style: str = "long") -> str:
    """A date as Italians write it: '31 marzo 2027' (long), '31/03/27' (short), ...

    Only CLDR's named styles: a free pattern with a typo would print nonsense, not fail.
    """
    if _rememberable(value):
        return _italian_date(value, style)
    return _italian_date.__wrapped__(value, style)


@functools.lru_cache(maxsize=_REMEMBER)
def _italian_date(value: date | datetime | str, style: str) -> str:
    if style not in DATE_STYLES:
        raise ValueError(f"date style must be one of {sorted(DATE_STYLES)}, not {style!r}")
    return format_date(_local_date(value), format=style, locale=LOCALE)


def due_instant(value: date | datetime | str) -> datetime:
    """The instant, in UTC, that IO's due_date needs for a due day or a due instant.

    A local date "31 March" becomes 23:59:59 that day on Rome's clock (+01:00 or +02:00 as DST
    says): a citizen who pays on the due day is on time, and with invalid_after_due_date IO
    must not close the payment before that day is over. Midnight UTC would show as 01:00 or
    02:00 in the app and, as a deadline, cut the day short. An instant keeps its moment.
    """
    value = _parsed(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a due date-time without a time zone is ambiguous; give its offset")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, END_OF_DAY, tzinfo=ROME).astimezone(UTC)
    raise TypeError(f"expected a date or a date-time, not {type(value).__name__}")


def io_due_date(value: date | datetime | str) -> str:
    """`due_instant` in the timestamp form IO's due_date field takes: '2027-03-31T21:59:59.000Z'."""
    if _rememberable(value):
        return _io_due_date(value)
    return _io_due_date.__wrapped__(value)


@functools.lru_cache(maxsize=_REMEMBER)
def _io_due_date(value: date | datetime | str) -> str:
    return format_timestamp(due_instant(value))


class SafeMarkdown(str):
    """Markdown a helper built on purpose: the markdown finalizer lets it through unescaped.

    Any string operation on it gives a plain `str` back, which is escaped again: only what a
    helper returned untouched keeps its markup.
    """

    __slots__ = ()


def escape_markdown(value: object) -> str:
    """`value` as plain text inside IO's markdown: it can neither add markup nor start a block.

    The value is collapsed onto one line (control characters and runs of spaces become one
    space, the ends are trimmed) and every markup character is backslash-escaped: "://"
    becomes "\\://" and "www." becomes "www\\.", so no autolinker sees a URL. Meant for running
    text, not for the inside of a code span or a link destination, where escapes show.
    """
    text = _LINE_BREAKING.sub(" ", str(value)).strip(" ")
    return _MARKUP.sub(r"\\\g<0>", text)


def finalize_markdown(value: object) -> object:
    """Jinja2's `finalize` for markdown templates: every `{{ ... }}` output goes through here."""
    if isinstance(value, SafeMarkdown):
        return value
    if value is None:
        return ""
    return escape_markdown(value)


def _link_destination(url: str) -> str:
    """`url` as a markdown link destination that ends where the URL ends, and not before."""
    encoded = _URL_BREAKING.sub(lambda match: quote(match.group(), safe=""), url)
    # Entities are decoded in a destination ("&amp;" would become "&"); an escape keeps them.
    return encoded.replace("&", "\\&")


def link_host(url: str) -> str:
    """The host a link leads to, lower case; a ValueError if the URL hides or lacks it.

    A user name before the host (`https://comune.it@evil.example/`) shows a trusted name and
    leads elsewhere, so it is refused rather than parsed.
    """
    # Up to the first / ? or #: a backslash does not end it, since the link writes it as %5C.
    authority = re.split(r"[/?#]", url[len("https://") :], maxsplit=1)[0]
    if "@" in authority:
        raise ValueError("a link's URL may not carry a user name before its host")
    try:
        host = urlsplit("https://" + authority).hostname
    except ValueError as exc:
        raise ValueError(f"a link needs a valid URL: {exc}") from None
    if not host:
        raise ValueError("a link's URL has no host")
    return host.lower()


def link(url: str, text: str) -> SafeMarkdown:
    """A deliberate link from event data: an https URL, shown as `text` escaped to plain text.

    The URL cannot end the link early or add a title: spaces, parentheses, angle brackets and
    backslashes are percent-encoded (and the scheme written in lower case). A URL with a line
    break or a control character is refused: it is broken data, and would make a broken link.
    """
    if not isinstance(url, str) or not isinstance(text, str):
        raise TypeError("link() takes a URL and a text, both strings")
    if url[:8].lower() != "https://":
        raise ValueError("a link must be an https:// URL")
    if _CONTROL.search(url):
        raise ValueError("a link's URL has a control character or line break in it")
    link_host(url)
    label = escape_markdown(text)
    if not label:
        raise ValueError("a link needs visible text")
    return SafeMarkdown(f"[{label}](https://{_link_destination(url[8:])})")
