"""The previews in a real browser: Debian's headless Chromium, driven by its chromedriver.

What the tests read is what a reader sees: WebDriver's element text leaves out what is
folded or hidden, and shows escapes and markup exactly as they would appear on screen.
Without Chromium the tests are skipped on a developer's machine and fail in CI (`CI=true`),
which installs it (.ci/run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from consumer.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RAW_MARKUP = ("\\", "**", "](", "<", ">", "&#", "&amp;")


def installed(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is missing: sudo apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = installed("chromium")
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=390,844"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(installed("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example rule's preview, and the TARI notice's own with its picture."""
    installed("chromium")
    out = tmp_path_factory.mktemp("previews")
    cli = CliRunner()
    rules = str(EXAMPLES / "rules")
    checked = cli.invoke(app, ["rules", "check", rules, "--preview", str(out / "examples")])
    assert checked.exit_code == 0, checked.output
    tari = str(EXAMPLES / "events" / "01-tari-notice.json")
    shot = cli.invoke(
        app, ["preview", "--rules", rules, "--event", tari, "--out", str(out / "tari"), "--png"]
    )
    assert shot.exit_code == 0, shot.output
    return out


def seen(browser: webdriver.Chrome, page: Path) -> str:
    browser.get(page.as_uri())
    text: str = browser.find_element(By.TAG_NAME, "body").text
    return " ".join(text.replace("\xa0", " ").split())


def test_a_tari_notice_reads_its_amount_and_due_date_in_italian(
    browser: webdriver.Chrome, previews: Path
) -> None:
    text = seen(browser, previews / "tari" / "tari-notice.it_IT.html")

    assert text.startswith("T tari Avviso di pagamento TARI Scade il 31 marzo 2027 Gentile")
    assert "Importo: 187,50 €" in text
    assert "Paga 187,50 € Codice avviso 302100000000123456" in text
    assert [piece for piece in RAW_MARKUP if piece in text] == []
    assert "fiscal_code" not in text  # the request body stays folded


def test_a_document_ready_message_links_only_where_link_made_one(
    browser: webdriver.Chrome, previews: Path
) -> None:
    text = seen(browser, previews / "examples" / "document-ready.it_IT.html")
    links = browser.find_elements(By.CSS_SELECTOR, "a")

    assert "il documento Certificato di residenza emesso da" in text
    assert "fino al 31 gennaio 2027" in text
    assert [piece for piece in RAW_MARKUP if piece in text] == []
    assert [(link.text, urlsplit(link.get_attribute("href") or "").hostname) for link in links] == [
        ("scarica il documento", "documenti.comune-demo.example")
    ]


def test_a_german_citizen_sees_the_german_page(browser: webdriver.Chrome, previews: Path) -> None:
    text = seen(browser, previews / "examples" / "generic-notice.de_DE.html")

    assert "Neue Zahlungsaufforderung" in text
    assert "45,00 € bezahlen Zahlungshinweis-Code" in text


def test_the_picture_is_a_phone_sized_png_of_the_page(previews: Path) -> None:
    with Image.open(previews / "tari" / "tari-notice.it_IT.png") as picture:
        assert picture.format == "PNG"
        assert picture.size == (780, 1688)
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None
    # White paper, dark text, the blue button and their antialiased edges: far from blank.
    assert len(colours) > 50
    blue = sum(count for count, rgb in colours if rgb == (0x0B, 0x3E, 0xE3))
    assert blue > 780 * 40  # the pay button, at least 40 device pixels tall
