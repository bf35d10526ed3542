"""Markdown as the IO app formats it: CommonMark, GFM's tables and strikethrough, bare links
made links, and raw HTML shown as the text it is (the app renders none)."""

from __future__ import annotations

from markdown_it import MarkdownIt

_APP = MarkdownIt("gfm-like", {"html": False})


def to_html(markdown: str) -> str:
    """HTML for the page: every event value arrives here escaped by the rule's templates, so
    the only links are the ones `link()` made."""
    html: str = _APP.render(markdown)
    return html
