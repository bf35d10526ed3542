"""IO's backend opening a Premium message: the sandbox calls a real content server.

The content server is a small raw ASGI app under uvicorn, in a thread of the test, that
answers what each test set for a path and records the calls it got.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from consumer.sandbox.pdf import certificate_pdf
from tests.fixtures.ports import free_port
from tests.fixtures.sandbox import ALLOWED, Sandbox, SandboxFactory, api_headers, message_body

CONFIGURATIONS = "/api/v1/messages-sending/remote-contents/configurations"
MESSAGE_ID = "pratica-42"
DETAILS_PATH = f"/messages/{MESSAGE_ID}"
ATTACHMENT_PATH = f"{DETAILS_PATH}/allegati/certificato"
PDF = certificate_pdf("CERT-1")
PROD_KEY, TEST_KEY = "prod-secret", "test-secret"
TEST_USER = "BBBBBB00B00B000B"
DETAILS = {
    "details": {"oggetto": "Certificato di residenza"},
    "attachments": [
        {
            "id": "cert-1",
            "name": "Certificato",
            "content_type": "application/pdf",
            "url": "allegati/certificato",
        }
    ],
}


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: bytes = b"application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    delay_s: float = 0.0


def details_answer(details: object = DETAILS, **options: Any) -> Answer:
    return Answer(body=json.dumps(details).encode(), **options)


@dataclass
class Call:
    path: str
    headers: dict[str, str]


class ContentServer:
    """The sender's content server: `answers[path]`, else 404; each call is in `calls`."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.calls: list[Call] = []
        self.base_url = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {key.decode(): value.decode() for key, value in scope["headers"]}
        self.calls.append(Call(scope["path"], headers))
        answer = self.answers.get(scope["path"], Answer(404, b'{"title":"Not found"}'))
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        start_headers = [(b"content-type", answer.content_type), *answer.headers]
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": start_headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]


@pytest.fixture
def content_server() -> Iterator[ContentServer]:
    app = ContentServer()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the content server did not start"
        time.sleep(0.02)
    app.base_url = f"http://127.0.0.1:{port}"
    yield app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def replay_sandbox(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox(rate_limit="off", processing_delay_ms=0)


def environment(base_url: str, header: str, key: str) -> dict[str, Any]:
    authentication = {"header_key_name": header, "key": key, "type": "API-KEY"}
    return {"base_url": base_url, "details_authentication": authentication}


def premium_message(
    sandbox: Sandbox, server: ContentServer, *, has_attachments: bool = True, to: str = ALLOWED
) -> str:
    """Register the content server (prod, and test for TEST_USER), submit, return the id."""
    configuration = {
        "name": "Certificati",
        "description": "Server dei contenuti",
        "has_precondition": "NEVER",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": environment(server.base_url, "X-Api-Key", PROD_KEY),
        "test_environment": {
            **environment(server.base_url + "/", "X-Test-Key", TEST_KEY),
            "test_users": [TEST_USER],
        },
    }
    created = httpx.post(
        sandbox.base_url + CONFIGURATIONS, json=configuration, headers=api_headers()
    )
    third_party = {
        "id": MESSAGE_ID,
        "has_attachments": has_attachments,
        "has_remote_content": True,
        "configuration_id": created.json()["configuration_id"],
    }
    body = message_body(to, feature_level_type="ADVANCED")
    body["content"]["third_party_data"] = third_party
    submitted = httpx.post(f"{sandbox.base_url}/api/v1/messages", json=body, headers=api_headers())
    assert submitted.status_code == 201, submitted.text
    message_id: str = submitted.json()["id"]
    return message_id


def open_message(sandbox: Sandbox, message_id: str, fiscal_code: str = ALLOWED) -> httpx.Response:
    url = f"{sandbox.base_url}/__sandbox/citizens/{fiscal_code}/messages/{message_id}/open"
    return httpx.post(url, timeout=30)


def test_valid_answer_has_no_problems_and_the_attachment_digest(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    content_server.answers[DETAILS_PATH] = details_answer()
    content_server.answers[ATTACHMENT_PATH] = Answer(body=PDF, content_type=b"application/pdf")
    message_id = premium_message(replay_sandbox, content_server)

    opened = open_message(replay_sandbox, message_id)

    assert opened.status_code == 200
    answer = opened.json()
    assert answer["status"] == 200
    assert answer["problems"] == []
    assert answer["details"] == DETAILS
    assert answer["attachments"] == [
        {
            "id": "cert-1",
            "name": "Certificato",
            "content_type": "application/pdf",
            "url": "allegati/certificato",
            "status": 200,
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
        }
    ]
    assert content_server.paths() == [DETAILS_PATH, ATTACHMENT_PATH]
    for call in content_server.calls:
        assert call.headers["x-api-key"] == PROD_KEY
        assert call.headers["fiscal_code"] == ALLOWED
    calls = httpx.get(replay_sandbox.base_url + "/__sandbox/remote-content").json()
    assert calls == {"calls": {"details": 1, "attachments": 1}}


def test_test_user_is_served_by_the_test_environment(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    content_server.answers[DETAILS_PATH] = details_answer({"details": {}})
    message_id = premium_message(
        replay_sandbox, content_server, has_attachments=False, to=TEST_USER
    )

    answer = open_message(replay_sandbox, message_id, TEST_USER).json()

    assert answer["status"] == 200
    (call,) = content_server.calls
    assert call.path == DETAILS_PATH
    assert call.headers["x-test-key"] == TEST_KEY
    assert "x-api-key" not in call.headers
    assert call.headers["fiscal_code"] == TEST_USER


def test_has_attachments_with_none_listed_is_502(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    content_server.answers[DETAILS_PATH] = details_answer({"details": {}, "attachments": []})
    message_id = premium_message(replay_sandbox, content_server)

    answer = open_message(replay_sandbox, message_id).json()

    assert answer["status"] == 502
    assert "no attachment" in answer["detail"]


def test_attachment_that_is_not_a_pdf_is_415(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    content_server.answers[DETAILS_PATH] = details_answer()
    content_server.answers[ATTACHMENT_PATH] = Answer(body=b"<html>not a pdf</html>")
    message_id = premium_message(replay_sandbox, content_server)

    answer = open_message(replay_sandbox, message_id).json()

    assert answer["status"] == 200
    (attachment,) = answer["attachments"]
    assert attachment["status"] == 415
    assert "sha256" not in attachment


def test_redirect_is_not_followed(replay_sandbox: Sandbox, content_server: ContentServer) -> None:
    content_server.answers[DETAILS_PATH] = Answer(302, headers=[(b"location", b"/elsewhere")])
    content_server.answers["/elsewhere"] = details_answer()
    message_id = premium_message(replay_sandbox, content_server)

    answer = open_message(replay_sandbox, message_id).json()

    assert answer["status"] == 502
    assert "/elsewhere" in answer["detail"]
    assert content_server.paths() == [DETAILS_PATH]


def test_slow_content_server_hits_the_apps_budget(
    start_sandbox: SandboxFactory, content_server: ContentServer
) -> None:
    sandbox = start_sandbox(rate_limit="off", open_budget_ms=500)
    content_server.answers[DETAILS_PATH] = details_answer(delay_s=3)
    message_id = premium_message(sandbox, content_server)

    started = time.monotonic()
    answer = open_message(sandbox, message_id).json()

    assert time.monotonic() - started < 2.5
    assert answer["status"] == 504


def test_slow_attachment_alone_is_504(
    start_sandbox: SandboxFactory, content_server: ContentServer
) -> None:
    sandbox = start_sandbox(rate_limit="off", open_budget_ms=700)
    content_server.answers[DETAILS_PATH] = details_answer()
    content_server.answers[ATTACHMENT_PATH] = Answer(body=PDF, delay_s=3)
    message_id = premium_message(sandbox, content_server)

    answer = open_message(sandbox, message_id).json()

    assert answer["status"] == 200
    assert answer["attachments"][0]["status"] == 504


def test_schema_invalid_answer_lists_its_problems(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    invalid = {"details": "not an object", "attachments": [{"id": "", "name": "Senza url"}]}
    content_server.answers[DETAILS_PATH] = details_answer(invalid)
    message_id = premium_message(replay_sandbox, content_server)

    answer = open_message(replay_sandbox, message_id).json()

    assert answer["status"] == 500
    assert "details" not in answer
    problems = answer["problems"]
    assert any(p.startswith("attachments.0: 'url' is a required property") for p in problems)
    assert any(p.startswith("attachments.0.id:") for p in problems)
    assert any(p.startswith("details:") for p in problems)


def test_body_that_is_not_json_is_500(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    content_server.answers[DETAILS_PATH] = Answer(body=b"{not json")
    message_id = premium_message(replay_sandbox, content_server)

    assert open_message(replay_sandbox, message_id).json()["status"] == 500


@pytest.mark.parametrize(
    ("sender", "app"),
    [(404, 404), (401, 500), (403, 500), (500, 500), (429, 429)],
)
def test_sender_errors_reach_the_app_as_io_backend_maps_them(
    replay_sandbox: Sandbox, content_server: ContentServer, sender: int, app: int
) -> None:
    content_server.answers[DETAILS_PATH] = Answer(sender, b"{}")
    message_id = premium_message(replay_sandbox, content_server)

    assert open_message(replay_sandbox, message_id).json()["status"] == app


def test_unavailable_sender_keeps_its_retry_after(
    replay_sandbox: Sandbox, content_server: ContentServer
) -> None:
    content_server.answers[DETAILS_PATH] = Answer(503, b"{}", headers=[(b"retry-after", b"120")])
    message_id = premium_message(replay_sandbox, content_server)

    answer = open_message(replay_sandbox, message_id).json()

    assert (answer["status"], answer["retry_after"]) == (503, "120")


def test_admin_refusals(replay_sandbox: Sandbox, content_server: ContentServer) -> None:
    message_id = premium_message(replay_sandbox, content_server)
    plain = httpx.post(
        f"{replay_sandbox.base_url}/api/v1/messages", json=message_body(), headers=api_headers()
    ).json()["id"]

    assert open_message(replay_sandbox, message_id, TEST_USER).status_code == 404
    assert open_message(replay_sandbox, "01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    not_third_party = open_message(replay_sandbox, plain)
    assert not_third_party.status_code == 400
    assert not_third_party.json()["title"] == "Not a third-party message"
    assert content_server.calls == []


def test_missing_spec_is_a_500_naming_the_path(
    start_sandbox: SandboxFactory, content_server: ContentServer, tmp_path: Any
) -> None:
    sandbox = start_sandbox(rate_limit="off", io_api_dir=tmp_path)
    message_id = premium_message(sandbox, content_server)

    answer = open_message(sandbox, message_id)

    assert answer.status_code == 500
    assert (
        str(tmp_path / "io-backend/openapi/consumed/api-third-party.yaml")
        in answer.json()["detail"]
    )
