"""Pages on disk, and the index that leads to them."""

from __future__ import annotations

from pathlib import Path

from consumer.preview import MessagePreview, write_previews
from tests.unit.preview.conftest import visible


def test_one_page_per_message_and_an_index_of_them(
    example_previews: list[MessagePreview], tmp_path: Path
) -> None:
    previews = [p for p in example_previews if p.content is None]

    pages = write_previews(previews, tmp_path / "out")

    assert [page.name for page in pages] == [f"{p.name}.html" for p in previews]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(
        [*(page.name for page in pages), "index.html"]
    )
    index = visible((tmp_path / "out" / "index.html").read_text(), "rows")
    assert sorted(href for _, href in index.links) == sorted(page.name for page in pages)
    assert "generic-notice de_DE tributi Neue Zahlungsaufforderung" in index.words()
