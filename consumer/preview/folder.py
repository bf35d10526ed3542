"""Pages on disk: one per message, and an index that lists them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from consumer.preview.messages import MessagePreview
from consumer.preview.page import render_index, render_page
from consumer.redact import mask


def write_previews(previews: Sequence[MessagePreview], folder: Path) -> list[Path]:
    """The pages, then index.html; returns the pages' paths. Raises OSError."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for preview in previews:
        page = folder / f"{preview.name}.html"
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
