"""A phone-sized picture of a page, taken by headless Chromium from Debian's packages."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from consumer.errors import ConfigurationError, FatalError

PHONE = (390, 844)
"""CSS pixels, as a common phone's screen; at a device scale of 2 the PNG is 780 by 1688."""
SCALE = 2
TIMEOUT_S = 60
_BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str:
    """Raises ConfigurationError saying what to install when there is none."""
    for name in _BROWSERS:
        if found := shutil.which(name):
            return found
    raise ConfigurationError(
        "--png needs headless Chromium, and none is on PATH: "
        "install Debian's package (sudo apt-get install chromium)"
    )


def take_screenshot(page: Path, png: Path, chromium: str | None = None) -> Path:
    """`page` as `png`; ConfigurationError when Chromium is missing, FatalError when it fails
    to take the picture."""
    browser = chromium or find_chromium()
    width, height = PHONE
    with tempfile.TemporaryDirectory(prefix="io-relay-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--force-device-scale-factor={SCALE}",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ]
        if os.geteuid() == 0:
            command.insert(2, "--no-sandbox")  # Chromium's sandbox refuses to start as root
        png.unlink(missing_ok=True)
        code, stderr = _run(command)
    if code != 0 or not png.is_file():
        last = (stderr.strip().splitlines() or ["no message"])[-1]
        raise FatalError(f"{browser} did not take {png.name} (exit {code}): {last}")
    return png


def _run(command: list[str]) -> tuple[int, str]:
    """Chromium and its helper processes, as one group: a timeout ends them all, so none
    outlives the command or holds the profile folder."""
    process = subprocess.Popen(  # noqa: S603 - our own arguments, no shell
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise FatalError(f"{command[0]} took more than {TIMEOUT_S} s to take a picture") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers left behind by a finished browser
    return process.returncode, stderr
