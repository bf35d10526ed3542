"""Pages on disk: one per message, and an index that lists them.

A page is named after its rule and language (`tari-notice.it_IT.html`); when several events'
messages share those, each name starts with its event's id as well (and ends in -2, -3 ...
for the same event given twice).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from consumer.preview.messages import MessagePreview
from consumer.preview.page import render_index, render_page
from consumer.redact import mask


def write_previews(previews: Sequence[MessagePreview], folder: Path) -> list[Path]:
    """The pages, then index.html; returns the pages' paths. Raises OSError."""
    folder.mkdir(parents=True, exist_ok=True)
    shared = Counter(preview.name for preview in previews)
    pages: list[Path] = []
    taken: set[str] = set()
    for preview in previews:
        name = preview.name
        if shared[name] > 1:
            name = f"{_slug(mask(preview.event))}.{name}"
        unique, copy = name, 1
        while unique in taken:
            copy += 1
            unique = f"{name}-{copy}"
        taken.add(unique)
        page = folder / f"{unique}.html"
        page.write_text(render_page(preview), encoding="utf-8")
        pages.append(page)
    rows = [
        {
            "page": page.name,
            "rule": preview.rule,
            "language": preview.language,
            "service": preview.service,
            "subject": mask(preview.message.content.subject),
        }
        for preview, page in zip(previews, pages, strict=True)
    ]
    (folder / "index.html").write_text(render_index(rows), encoding="utf-8")
    return pages


def _slug(event_id: str) -> str:
    """An event id as a file name: CloudEvents ids are any non-empty string."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", event_id).strip("-")[:80] or "event"
