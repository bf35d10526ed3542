"""The Premium half of `make demo`: the certificate a document-ready event attaches.

1. register the demo's remote-content configuration with the sandbox, as an operator does
   with IO (`io-relay remote-content create`), and hand its id to the relay;
2. start `io-relay content`, which IO's backend (here the sandbox) calls when a citizen opens
   a Premium message;
3. once the relay has sent the messages, play the citizen: open each message with
   attachments in the app (the sandbox replays io-backend's calls and checks every answer
   against api-third-party.yaml) and download its PDFs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from consumer.serving import wait_ready

START_TIMEOUT_S = 30.0


def premium_environment(sandbox_url: str, content_port: int, metrics_port: int) -> dict[str, str]:
    """What the demo's config.yaml cannot know in advance: the ports picked for this run."""
    return {
        "IO_RELAY_CONTENT__PUBLIC_URL": f"http://127.0.0.1:{content_port}",
        "IO_RELAY_CONTENT__PORT": str(content_port),
        "IO_RELAY_CONTENT__DOCUMENT_SOURCES__DOCUMENTI__BASE_URL": f"{sandbox_url}/documents/",
        "IO_RELAY_OBSERVABILITY__PORT": str(metrics_port),
    }


def register_configuration(
    command: list[str], config: Path, env: Mapping[str, str], service: str = "documenti"
) -> dict[str, str]:
    """`io-relay remote-content create`; the variable that gives the relay its id."""
    done = subprocess.run(
        [*command, "remote-content", "create", "--config", str(config), "--name", "Demo"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"^configuration_id: (\S+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"demo: remote-content create failed:\n{done.stdout}{done.stderr}")
    print(f"demo: registered remote-content configuration {found[1]}", file=sys.stderr)
    return {f"IO_RELAY_IO__SERVICES__{service.upper()}__CONFIGURATION_ID": found[1]}


def start_content(
    command: list[str], config: Path, env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`io-relay content`, ready once /readyz says it has read the content topic."""
    with log.open("w") as output:
        content = subprocess.Popen(
            [*command, "content", "--config", str(config)], env=dict(env), stderr=output
        )
    ready = f"http://127.0.0.1:{env['IO_RELAY_OBSERVABILITY__PORT']}/readyz"
    if wait_ready(ready, START_TIMEOUT_S, alive=lambda: content.poll() is None):
        return content
    if content.poll() is not None:
        raise SystemExit(f"demo: io-relay content exited; its log: {log}")
    content.kill()
    raise SystemExit(f"demo: io-relay content was not ready within {START_TIMEOUT_S:.0f} s")


def open_attachments(sandbox_url: str, accepted: list[Any]) -> list[str]:
    """The citizen opens each message with attachments; one line per file downloaded."""
    lines = []
    for message in accepted:
        body = message["body"]
        data = body["content"].get("third_party_data")
        if not data or not data.get("has_attachments"):
            continue
        url = (
            f"{sandbox_url}/__sandbox/citizens/{body['fiscal_code']}/messages/{message['id']}/open"
        )
        opened = httpx.post(url, timeout=30).raise_for_status().json()
        if opened["status"] != 200 or opened["problems"]:
            raise SystemExit(f"demo: the app could not open {message['id']}: {opened}")
        subject = opened["details"].get("details", {}).get("subject", "")
        for attachment in opened["attachments"]:
            if attachment["status"] != 200:
                raise SystemExit(f"demo: download failed for {message['id']}: {attachment}")
            lines.append(
                f"  {message['id']}  {subject!r}: downloaded {attachment['name']!r}, "
                f"{attachment['size']:,} bytes ({attachment['content_type']})"
            )
    return lines
