"""The document store stand-in, on a real sandbox: bearer token, contents, behaviours."""

from __future__ import annotations

import time

import httpx
import pytest
from ulid import ULID

from consumer.sandbox._asgi import MAX_BODY_BYTES, MAX_DOCUMENT_BYTES
from consumer.sandbox.pdf import certificate_pdf
from tests.fixtures.sandbox import Sandbox, SandboxFactory
from tests.unit.sandbox.test_pdf import assert_valid_pdf

TOKEN = "sandbox-document-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def unique_path(suffix: str = ".pdf") -> str:
    return f"pratiche/{ULID()}/documento{suffix}"


def fetch(sandbox: Sandbox, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{sandbox.base_url}/documents/{path}", headers=headers or BEARER)


def admin(
    sandbox: Sandbox,
    method: str,
    path: str,
    *,
    content: bytes | None = None,
    json: object | None = None,
) -> httpx.Response:
    url = f"{sandbox.base_url}/__sandbox/documents/{path}"
    return httpx.request(method, url, content=content, json=json, timeout=30)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong-token", "wrong-scheme"],
)
def test_without_the_bearer_token_it_is_401(sandbox: Sandbox, headers: dict[str, str]) -> None:
    answer = httpx.get(f"{sandbox.base_url}/documents/certificati/X1.pdf", headers=headers)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_stored_document_is_served_as_pdf_and_counted(sandbox: Sandbox) -> None:
    path = unique_path()
    content = b"%PDF-1.4 not really, but any bytes are kept"
    assert admin(sandbox, "PUT", path, content=content).status_code == 200

    first = fetch(sandbox, path)
    fetch(sandbox, path)

    assert first.status_code == 200
    assert first.content == content
    assert first.headers["content-type"] == "application/pdf"
    assert first.headers["content-length"] == str(len(content))
    overview = httpx.get(f"{sandbox.base_url}/__sandbox/documents").json()
    assert overview[path] == {"fetches": 2, "bytes": len(content)}
    assert admin(sandbox, "GET", path).json() == {
        "path": path,
        "fetches": 2,
        "bytes": len(content),
        "behaviour": {"delay_ms": 0, "status": None},
    }


def test_deleted_document_is_404(sandbox: Sandbox) -> None:
    path = unique_path()
    admin(sandbox, "PUT", path, content=b"%PDF-1.4")
    generated = f"certificati/{ULID()}.pdf"

    assert admin(sandbox, "DELETE", path).status_code == 204
    assert admin(sandbox, "DELETE", generated).status_code == 204

    assert fetch(sandbox, path).status_code == 404
    assert fetch(sandbox, generated).status_code == 404
    admin(sandbox, "PUT", path, content=b"again")
    assert fetch(sandbox, path).content == b"again"


def test_generated_certificate_is_a_valid_deterministic_pdf(sandbox: Sandbox) -> None:
    certificate_id = str(ULID())

    answer = fetch(sandbox, f"certificati/{certificate_id}.pdf")

    assert answer.status_code == 200
    assert answer.content == certificate_pdf(certificate_id)
    assert answer.content.startswith(b"%PDF-")
    assert_valid_pdf(answer.content)
    assert certificate_id.encode() in answer.content
    assert fetch(sandbox, f"certificati/{certificate_id}.pdf").content == answer.content


def test_slow_behaviour_delays_the_answer_and_empty_resets_it(sandbox: Sandbox) -> None:
    path = f"certificati/{ULID()}.pdf"
    set_slow = admin(sandbox, "POST", f"{path}/behaviour", json={"delay_ms": 600})
    assert set_slow.json() == {"path": path, "behaviour": {"delay_ms": 600, "status": None}}

    started = time.monotonic()
    slow = fetch(sandbox, path)
    slow_s = time.monotonic() - started
    admin(sandbox, "POST", f"{path}/behaviour", json={})
    started = time.monotonic()
    fast = fetch(sandbox, path)
    fast_s = time.monotonic() - started

    assert slow.status_code == fast.status_code == 200
    assert slow_s >= 0.6
    assert fast_s < 0.5


@pytest.mark.parametrize("status", [503, 500, 404])
def test_failing_behaviour_answers_its_status(sandbox: Sandbox, status: int) -> None:
    path = f"certificati/{ULID()}.pdf"
    admin(sandbox, "POST", f"{path}/behaviour", json={"status": status})

    answer = fetch(sandbox, path)

    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert admin(sandbox, "GET", path).json()["fetches"] == 1


def test_bad_behaviour_is_400(sandbox: Sandbox) -> None:
    path = unique_path()
    answer = admin(sandbox, "POST", f"{path}/behaviour", json={"delay_ms": -1, "colour": "red"})
    assert answer.status_code == 400


def test_documents_over_a_mebibyte_up_to_sixteen_are_stored(sandbox: Sandbox) -> None:
    megabyte, large = unique_path(), unique_path()
    big = b"%PDF-1.4\n" + b"0" * (MAX_BODY_BYTES + 10)
    assert admin(sandbox, "PUT", megabyte, content=b"%PDF" + b"1" * 1_000_000).status_code == 200
    assert admin(sandbox, "PUT", large, content=big).status_code == 200

    assert len(fetch(sandbox, megabyte).content) == 1_000_004
    assert fetch(sandbox, large).content == big
    too_big = admin(sandbox, "PUT", unique_path(), content=b"0" * (MAX_DOCUMENT_BYTES + 1))
    assert too_big.status_code == 413


def test_documents_skip_the_gateway(start_sandbox: SandboxFactory) -> None:
    """No subscription key, no rate limit, no IO outage, and the token given at start."""
    running = start_sandbox(rate_limit="1/60s", document_token="altro-token")
    httpx.post(f"{running.base_url}/__sandbox/outage", json={"seconds": 30})

    answers = [
        fetch(running, "certificati/A.pdf", {"Authorization": "Bearer altro-token"})
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert fetch(running, "certificati/A.pdf").status_code == 401
    assert running.stats()["requests"] == {}
