"""Markdown as the IO app formats it: CommonMark, GFM's tables and strikethrough, bare links
made links, and raw HTML shown as the text it is (the app renders none).

Fiscal codes are masked in what the reader sees, after parsing: in the source they may be
spelled through markdown escapes (`RSS\\-MRA...`), which the mask would not know, and the
mask's stars would read as emphasis.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from consumer.redact import mask

_TEXT = frozenset({"text", "code_inline", "code_block", "fence"})


def _mask_what_shows(state: StateCore) -> None:
    for token in state.tokens:
        for shown in [token, *(token.children or ())]:
            if shown.type in _TEXT:
                shown.content = mask(shown.content)
            href = shown.attrGet("href")
            if isinstance(href, str):
                shown.attrSet("href", mask(href))


_APP = MarkdownIt("gfm-like", {"html": False})
_APP.core.ruler.push("mask_fiscal_codes", _mask_what_shows)


def to_html(markdown: str) -> str:
    """HTML for the page: every event value arrives here escaped by the rule's templates, so
    the only links are the ones `link()` made."""
    html: str = _APP.render(markdown)
    return html
