"""The error answers: IO's ProblemJson for the services, APIM's own body for the gateway."""

from __future__ import annotations

from pydantic import ValidationError

from consumer.sandbox._asgi import PROBLEM_JSON, Headers, Response

_PROBLEMS = "https://io.italia.it/problems/"


def problem(status: int, slug: str, title: str, detail: str) -> Response:
    body = {"type": _PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    return Response.json(status, body, content_type=PROBLEM_JSON)


def invalid_payload(detail: str) -> Response:
    return problem(400, "validation-error", "Invalid payload", detail)


def invalid_body(error: ValidationError) -> Response:
    return invalid_payload(describe(error))


def not_found(detail: str) -> Response:
    return problem(404, "not-found", "Not found", detail)


NOT_AUTHORIZED = "You do not have enough permission to complete the operation you requested"


def forbidden(detail: str = NOT_AUTHORIZED) -> Response:
    """IO's 403 (ResponseErrorForbiddenNotAuthorized and its kin)."""
    return problem(403, "forbidden", "You are not allowed here", detail)


def describe(error: ValidationError) -> str:
    """Each failed field and why: `content.subject: String should have at least 10 characters`."""
    clauses = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        clauses.append(f"{where}: {item['msg']}")
    return "; ".join(clauses)


def gateway_refusal(status: int, message: str, headers: Headers | None = None) -> Response:
    """The body Azure API Management answers with, before IO's functions see the call."""
    return Response.json(status, {"statusCode": status, "message": message}, headers=headers)


def rate_limit_exceeded(retry_after_s: int) -> Response:
    """APIM's 429: how long to wait, in the body and in two headers."""
    seconds = str(retry_after_s).encode()
    headers = [
        (b"retry-after", seconds),
        (b"x-rate-limit-retry-after", seconds),
        (b"x-rate-limit-remaining", b"0"),
    ]
    message = f"Rate limit is exceeded. Try again in {retry_after_s} seconds."
    return gateway_refusal(429, message, headers)


def injected_error(status: int) -> Response:
    if status == 503:
        return problem(503, "service-unavailable", "Service unavailable", "Injected fault: 503")
    return problem(status, "internal-error", "Internal server error", f"Injected fault: {status}")
