"""The page's text against the app's: every example rule, in every language it has.

The stand-in for the app's parser is the one the helpers' tests use (markdown-it-py's
"gfm-like", raw HTML on): more eager to make markup than the app, so a page that agrees
with it shows no less than the app would, and a stray backslash or bracket would show in
both.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from markdown_it import MarkdownIt

from consumer.preview import MessagePreview
from consumer.preview.markdown import to_html
from consumer.preview.page import render_page
from consumer.rules import Rule
from tests.unit.preview.conftest import visible

APP = MarkdownIt("gfm-like")
RAW_MARKUP = ("\\", "**", "](", "<", ">", "__", "`")


def shown_markdown(preview: MessagePreview) -> str:
    remote = preview.content.remote if preview.content else None
    return (remote or preview.message.content).markdown


def test_every_example_rule_and_language_is_previewed(
    example_previews: list[MessagePreview],
) -> None:
    assert sorted(preview.name for preview in example_previews) == [
        "document-ready.it_IT",
        "document-ready.it_IT",
        "generic-notice.de_DE",
        "generic-notice.it_IT",
        "tari-notice.it_IT",
    ]


def test_the_page_shows_the_text_and_links_the_app_shows(
    example_previews: list[MessagePreview],
) -> None:
    for preview in example_previews:
        page = visible(render_page(preview), within_class="text")
        app = visible(f'<div class="text">{APP.render(shown_markdown(preview))}</div>', "text")

        assert page.words() == app.words(), preview.name
        assert page.links == app.links, preview.name
        assert page.words(), preview.name


def test_no_example_shows_raw_markup(example_previews: list[MessagePreview]) -> None:
    for preview in example_previews:
        words = visible(render_page(preview), within_class="text").words()
        assert [piece for piece in RAW_MARKUP if piece in words] == [], (preview.name, words)


def test_links_are_only_those_link_made_to_allowed_hosts(
    example_previews: list[MessagePreview], examples: tuple[object, object, list[Rule]]
) -> None:
    rules = {rule.name: rule for rule in examples[2]}
    seen = []
    for preview in example_previews:
        for text, href in visible(render_page(preview), within_class="text").links:
            allowed = rules[preview.rule].spec.allowed_link_hosts
            assert urlsplit(href).scheme == "https", href
            assert urlsplit(href).hostname in allowed, (preview.name, href)
            seen.append((preview.name, text))
    assert seen == [("document-ready.it_IT", "scarica il documento")]


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("a \\*b\\* c", "a *b* c"),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ],
)
def test_raw_html_and_escapes_show_as_the_text_they_are(markdown: str, shown: str) -> None:
    page = visible(f'<div class="text">{to_html(markdown)}</div>', "text")

    assert page.words() == shown
    assert page.links == []
