"""Submitting and reading messages on a real sandbox, over HTTP."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ulid import ULID

from consumer.sandbox.auth import key_fingerprint
from tests.fixtures.sandbox import (
    ALLOWED,
    BLOCKED,
    DEFAULT_PROFILES,
    NO_PROFILE,
    Sandbox,
    SandboxFactory,
    api_headers,
    message_body,
    payment_data,
)

MESSAGES = "/api/v1/messages"


def submit(sandbox: Sandbox, body: object, key: str = "test-key") -> httpx.Response:
    return httpx.post(f"{sandbox.base_url}{MESSAGES}", json=body, headers=api_headers(key))


def with_content(**fields: Any) -> dict[str, Any]:
    body = message_body()
    body["content"].update(fields)
    return body


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(message_body())
    change(body)
    return body


def test_created_with_ulid_location_and_recorded(sandbox: Sandbox) -> None:
    body = message_body(feature_level_type="STANDARD")

    response = submit(sandbox, body, key="key-recorded")

    assert response.status_code == 201
    message_id = response.json()["id"]
    assert str(ULID.from_str(message_id)) == message_id
    assert response.json() == {"id": message_id}
    assert response.headers["location"] == f"{MESSAGES}/{ALLOWED}/{message_id}"
    recorded = [m for m in sandbox.messages() if m["id"] == message_id]
    assert len(recorded) == 1
    assert recorded[0]["fiscal_code"] == ALLOWED
    assert recorded[0]["service"] == key_fingerprint("key-recorded")
    assert recorded[0]["key_fingerprint"] == key_fingerprint("key-recorded")
    assert "key-recorded" not in response.text + json.dumps(sandbox.messages())
    assert recorded[0]["body"] == body
    assert recorded[0]["received_at"].endswith("Z")


def test_a_citizen_without_profile_is_accepted_too(sandbox: Sandbox) -> None:
    assert submit(sandbox, message_body(NO_PROFILE)).status_code == 201


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            with_content(subject="Too short"),
            "content.subject: must be 10 to 120 characters long, not 9",
        ),
        (
            with_content(subject="x" * 121),
            "content.subject: must be 10 to 120 characters long, not 121",
        ),
        (
            with_content(markdown="x" * 79),
            "content.markdown: must be 80 to 10000 characters long, not 79",
        ),
        (
            with_content(markdown="x" * 10_001),
            "content.markdown: must be 80 to 10000 characters long, not 10001",
        ),
        (message_body("AAAAAA00A00A000"), "fiscal_code: String should match pattern"),
        (message_body("aaaaaa00a00a000a"), "fiscal_code: String should match pattern"),
        (
            with_content(payment_data=payment_data(notice_number="402000100000009421")),
            "content.payment_data.notice_number: String should match pattern",
        ),
        (
            with_content(payment_data=payment_data(notice_number="30200010000000942")),
            "content.payment_data.notice_number: String should match pattern",
        ),
        (
            with_content(payment_data=payment_data(amount=0)),
            "content.payment_data.amount: Input should be greater than or equal to 1",
        ),
        (
            with_content(payment_data=payment_data(amount=10_000_000_000)),
            "content.payment_data.amount: Input should be less than or equal to 9999999999",
        ),
        (
            with_content(payment_data=payment_data(payee={"fiscal_code": "1234567890"})),
            "content.payment_data.payee.fiscal_code: String should match pattern",
        ),
        (
            message_body(time_to_live=3599),
            "time_to_live: Input should be greater than or equal to 3600",
        ),
        (
            message_body(time_to_live=604_801),
            "time_to_live: Input should be less than or equal to 604800",
        ),
        (
            message_body(feature_level_type="PREMIUM"),
            "feature_level_type: Input should be 'STANDARD' or 'ADVANCED'",
        ),
        (with_content(due_date="31/03/2026"), "content.due_date: must be an ISO-8601 date-time"),
        (mutated(lambda b: b.pop("fiscal_code")), "fiscal_code: Field required"),
        (mutated(lambda b: b.pop("content")), "content: Field required"),
        (mutated(lambda b: b["content"].pop("subject")), "content.subject: Field required"),
        ([message_body()], "body: Input should be an object"),
    ],
)
def test_invalid_body_is_400_problem_naming_the_field(
    sandbox: Sandbox, body: object, named: str
) -> None:
    response = submit(sandbox, body)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"] == "Invalid payload"
    assert problem["type"].startswith("https://")
    assert named in problem["detail"]


def test_every_invalid_field_is_named(sandbox: Sandbox) -> None:
    body = message_body("X", time_to_live=1)
    body["content"]["subject"] = "short"

    detail = submit(sandbox, body).json()["detail"]

    for field in ("fiscal_code:", "time_to_live:", "content.subject:"):
        assert field in detail


def test_non_json_body_is_400(sandbox: Sandbox) -> None:
    response = httpx.post(
        f"{sandbox.base_url}{MESSAGES}", content=b"subject=hello", headers=api_headers()
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body: Invalid JSON")


def test_invalid_bodies_are_not_recorded(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off")
    submit(sandbox, with_content(subject="short"))
    submit(sandbox, message_body("BAD"))
    assert sandbox.messages() == []


def observe(sandbox: Sandbox, location: str, until: float) -> list[tuple[float, float, str]]:
    """(sent, received, status) of polls sent until the monotonic time `until`."""
    observed = []
    while (sent := time.monotonic()) < until:
        response = httpx.get(f"{sandbox.base_url}{location}", headers=api_headers())
        assert response.status_code == 200
        observed.append((sent, time.monotonic(), response.json()["status"]))
        time.sleep(0.1)
    return observed


@pytest.mark.parametrize(
    ("fiscal_code", "final"),
    [(ALLOWED, "PROCESSED"), (BLOCKED, "REJECTED"), (NO_PROFILE, "REJECTED")],
)
def test_status_goes_from_accepted_to_its_outcome_after_the_processing_delay(
    start_sandbox: SandboxFactory, fiscal_code: str, final: str
) -> None:
    delay_s = 1.5
    sandbox = start_sandbox(
        rate_limit="off", processing_delay_ms=int(delay_s * 1000), profiles=DEFAULT_PROFILES
    )
    posted = time.monotonic()
    created = submit(sandbox, message_body(fiscal_code))
    answered = time.monotonic()  # the sandbox received the message in [posted, answered]

    observed = observe(sandbox, created.headers["location"], until=answered + delay_s + 0.5)

    for sent, received, status in observed:
        if received - posted < delay_s:
            assert status == "ACCEPTED", observed
        elif sent - answered >= delay_s:
            assert status == final, observed
    statuses = [status for _, _, status in observed]
    assert statuses == sorted(statuses, key=lambda status: status != "ACCEPTED")
    assert statuses[-1] == final


def test_get_message_returns_the_message(sandbox: Sandbox) -> None:
    body = message_body(time_to_live=7200)
    body["content"]["due_date"] = "2026-03-31T21:59:59.000Z"
    created = submit(sandbox, body, key="reader")

    answer = httpx.get(
        f"{sandbox.base_url}{created.headers['location']}", headers=api_headers("reader")
    )

    assert answer.status_code == 200
    message = answer.json()["message"]
    assert message["id"] == created.json()["id"]
    assert message["fiscal_code"] == ALLOWED
    assert message["content"] == body["content"]
    assert message["time_to_live"] == 7200
    assert message["sender_service_id"] == key_fingerprint("reader")
    assert message["feature_level_type"] == "STANDARD"
    assert message["created_at"].endswith("Z")
    assert answer.json()["status"] in {"ACCEPTED", "PROCESSED"}
    assert "read_status" not in answer.json()
    assert "payment_status" not in answer.json()


def test_advanced_message_has_read_and_payment_status(sandbox: Sandbox) -> None:
    body = message_body(feature_level_type="ADVANCED")
    body["content"]["payment_data"] = payment_data()
    created = submit(sandbox, body)

    answer = httpx.get(f"{sandbox.base_url}{created.headers['location']}", headers=api_headers())

    assert answer.json()["read_status"] == "UNREAD"
    assert answer.json()["payment_status"] == "NOT_PAID"
    assert answer.json()["message"]["feature_level_type"] == "ADVANCED"
    # IO fills the payee with the sender's organisation when the sender gave none.
    assert answer.json()["message"]["content"]["payment_data"]["payee"] == {
        "fiscal_code": "00000000000"
    }


def test_advanced_message_without_payment_has_no_payment_status(sandbox: Sandbox) -> None:
    created = submit(sandbox, message_body(feature_level_type="ADVANCED"))
    answer = httpx.get(f"{sandbox.base_url}{created.headers['location']}", headers=api_headers())
    assert answer.json()["read_status"] == "UNREAD"
    assert "payment_status" not in answer.json()


def mark(sandbox: Sandbox, location: str, **marks: str) -> httpx.Response:
    message_id = location.rsplit("/", 1)[-1]
    return httpx.patch(f"{sandbox.base_url}/__sandbox/messages/{message_id}", json=marks)


def read_back(sandbox: Sandbox, location: str) -> dict[str, Any]:
    answer = httpx.get(f"{sandbox.base_url}{location}", headers=api_headers())
    assert answer.status_code == 200
    return dict(answer.json())


def test_an_advanced_message_can_be_read_then_paid(sandbox: Sandbox) -> None:
    body = message_body(feature_level_type="ADVANCED")
    body["content"]["payment_data"] = payment_data()
    location = submit(sandbox, body).headers["location"]

    read = mark(sandbox, location, read_status="READ")
    assert read.status_code == 200
    assert (read.json()["read_status"], read.json()["payment_status"]) == ("READ", "NOT_PAID")
    assert mark(sandbox, location, payment_status="PAID").status_code == 200

    answer = read_back(sandbox, location)
    assert (answer["read_status"], answer["payment_status"]) == ("READ", "PAID")


def test_a_citizen_may_not_share_the_read_status(sandbox: Sandbox) -> None:
    location = submit(sandbox, message_body(feature_level_type="ADVANCED")).headers["location"]
    assert mark(sandbox, location, read_status="UNAVAILABLE").status_code == 200
    assert read_back(sandbox, location)["read_status"] == "UNAVAILABLE"


def test_any_message_can_be_rejected_at_once(sandbox: Sandbox) -> None:
    location = submit(sandbox, message_body()).headers["location"]
    assert read_back(sandbox, location)["status"] == "ACCEPTED"

    assert mark(sandbox, location, status="REJECTED").status_code == 200

    answer = read_back(sandbox, location)
    assert answer["status"] == "REJECTED"
    assert "read_status" not in answer


def test_read_and_payment_status_are_refused_for_a_standard_message(sandbox: Sandbox) -> None:
    body = message_body()
    body["content"]["payment_data"] = payment_data()
    location = submit(sandbox, body).headers["location"]

    for marks in ({"read_status": "READ"}, {"payment_status": "PAID"}):
        refused = mark(sandbox, location, **marks)
        assert refused.status_code == 409
        assert "ADVANCED" in refused.json()["detail"]
    assert "read_status" not in read_back(sandbox, location)


def test_payment_status_needs_a_payment(sandbox: Sandbox) -> None:
    location = submit(sandbox, message_body(feature_level_type="ADVANCED")).headers["location"]
    refused = mark(sandbox, location, payment_status="PAID")
    assert refused.status_code == 409
    assert "payment_data" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("marks", "named"),
    [
        ({"read_status": "UNREAD"}, "read_status"),
        ({"payment_status": "NOT_PAID"}, "payment_status"),
        ({"status": "ACCEPTED"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_marks_io_would_never_report_are_400(
    sandbox: Sandbox, marks: dict[str, str], named: str
) -> None:
    location = submit(sandbox, message_body(feature_level_type="ADVANCED")).headers["location"]
    refused = mark(sandbox, location, **marks)
    assert refused.status_code == 400
    assert named in refused.text


def test_marking_an_unknown_message_is_404(sandbox: Sandbox) -> None:
    answer = httpx.patch(
        f"{sandbox.base_url}/__sandbox/messages/{ULID()}", json={"status": "REJECTED"}
    )
    assert answer.status_code == 404


def not_found(response: httpx.Response) -> None:
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert response.json()["detail"] == "No message found for the provided ID."


def test_unknown_id_is_404(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}{MESSAGES}/{ALLOWED}/{ULID()}"
    not_found(httpx.get(url, headers=api_headers()))


def test_other_fiscal_code_is_404(sandbox: Sandbox) -> None:
    message_id = submit(sandbox, message_body()).json()["id"]
    url = f"{sandbox.base_url}{MESSAGES}/{BLOCKED}/{message_id}"
    not_found(httpx.get(url, headers=api_headers()))


def test_invalid_fiscal_code_in_path_is_404(sandbox: Sandbox) -> None:
    message_id = submit(sandbox, message_body()).json()["id"]
    not_found(httpx.get(f"{sandbox.base_url}{MESSAGES}/nope/{message_id}", headers=api_headers()))


def test_other_service_cannot_read_it(sandbox: Sandbox) -> None:
    location = submit(sandbox, message_body(), key="service-a").headers["location"]
    not_found(httpx.get(f"{sandbox.base_url}{location}", headers=api_headers("service-b")))


def test_with_a_key_list_only_the_sending_service_reads_it(start_sandbox: SandboxFactory) -> None:
    subscriptions = {
        "key-tari": {"service": "tari", "account": "comune"},
        "key-tari-2": {"service": "tari", "account": "comune"},
        "key-docs": {"service": "documenti", "account": "comune"},
    }
    sandbox = start_sandbox(
        rate_limit="off", profiles={"profiles": DEFAULT_PROFILES, "subscriptions": subscriptions}
    )
    location = submit(sandbox, message_body(), key="key-tari").headers["location"]

    same_service = httpx.get(f"{sandbox.base_url}{location}", headers=api_headers("key-tari-2"))
    not_found(httpx.get(f"{sandbox.base_url}{location}", headers=api_headers("key-docs")))

    assert same_service.status_code == 200
    assert same_service.json()["message"]["sender_service_id"] == "tari"
    assert sandbox.messages()[0]["service"] == "tari"
