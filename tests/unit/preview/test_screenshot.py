"""Pictures by headless Chromium: what to install when it is missing, and why it failed.

The picture itself is taken in tests/browser, with the real browser."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from consumer.errors import ConfigurationError, FatalError
from consumer.preview.screenshot import find_chromium, take_screenshot


def test_no_chromium_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ConfigurationError, match=r"apt-get install chromium"):
        find_chromium()


def test_a_failing_chromium_is_reported_with_its_last_word(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho starting >&2\necho 'cannot open display' >&2\nexit 21\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    page = tmp_path / "page.html"
    page.write_text("<p>hi</p>")

    with pytest.raises(FatalError, match=r"exit 21\): cannot open display$"):
        take_screenshot(page, tmp_path / "page.png", str(fake))
    assert not (tmp_path / "page.png").exists()


def test_chromium_is_given_a_phone_window_and_the_page(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text(
        '#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "$ARGS"\n'
        'for a in "$@"; do case "$a" in --screenshot=*) : > "${a#--screenshot=}";; esac; done\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    page = tmp_path / "page.html"
    page.write_text("<p>hi</p>")
    os.environ["ARGS"] = str(tmp_path / "args")
    try:
        png = take_screenshot(page, tmp_path / "page.png", str(fake))
    finally:
        del os.environ["ARGS"]

    args = (tmp_path / "args").read_text().splitlines()
    assert png == tmp_path / "page.png"
    assert "--window-size=390,844" in args
    assert "--force-device-scale-factor=2" in args
    assert args[-1] == page.resolve().as_uri()


def test_a_chromium_past_its_time_is_ended_with_its_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium starts helper processes: a timeout must end them too, or they outlive the
    command and hold the profile folder."""
    monkeypatch.setattr("consumer.preview.screenshot.TIMEOUT_S", 0.5)
    helper = tmp_path / "helper.pid"
    fake = tmp_path / "chromium"
    fake.write_text(f"#!/bin/sh\nsleep 300 >/dev/null 2>&1 &\necho $! > {helper}\nsleep 300\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    page = tmp_path / "page.html"
    page.write_text("<p>hi</p>")

    with pytest.raises(FatalError, match=r"took more than 0.5 s"):
        take_screenshot(page, tmp_path / "page.png", str(fake))

    pid = int(helper.read_text())
    assert not running(pid)


def running(pid: int) -> bool:
    """Alive, and not a zombie waiting for init to reap it (a moment at most)."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.02)
    return True
