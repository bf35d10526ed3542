"""A phone-sized picture of a page, taken by headless Chromium from Debian's packages."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from consumer.errors import ConfigurationError

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


def screenshot(page: Path, png: Path, chromium: str | None = None) -> Path:
    """`page` as `png`; ConfigurationError when Chromium is missing or fails to take it."""
    browser = chromium or find_chromium()
    width, height = PHONE
    with tempfile.TemporaryDirectory(prefix="io-relay-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",  # as root in a container, Chromium's sandbox cannot start
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
        png.unlink(missing_ok=True)
        try:
            done = subprocess.run(  # noqa: S603 - our own arguments, no shell
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise ConfigurationError(
                f"{browser} took more than {TIMEOUT_S} s to take {png.name}"
            ) from None
    if done.returncode != 0 or not png.is_file():
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ConfigurationError(
            f"{browser} did not take {png.name} (exit {done.returncode}): {last}"
        )
    return png
