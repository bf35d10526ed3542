"""IO's backend opening a Premium message: it calls the sender's content server, as
io-backend does when the citizen taps the message in the app.

    POST /__sandbox/citizens/{fiscal_code}/messages/{message_id}/open
    GET  /__sandbox/remote-content    {"calls": {"details": n, "attachments": n}}

`message_id` is the id the submit returned. The replay takes the message's third_party_data
and its configuration (the test environment when the citizen is a test user, else prod) and,
without following redirects, calls

    GET {base_url}/messages/{third_party_data.id}            with <header_key_name>: <key>
    GET {base_url}/messages/{id}/{attachment.url}, each      and fiscal_code: <fiscal code>

Its 200 answer says what the app would show:

    {"status": 200, "details": {...ThirdPartyMessage...}, "problems": [],
     "attachments": [{"id", "name", "content_type", "url", "status": 200, "size", "sha256"}]}

or, when the app cannot open the message, `{"status": S, "detail": "...", "problems": [...]}`
(plus `"retry_after"` when the sender sent one). `problems` lists every way the details broke
api-third-party.yaml's ThirdPartyMessage, so a test can assert that list is empty. A failed
attachment has `status` and `detail` instead of `size` and `sha256`. io-backend's rules:

- the sender's 404 (and other errors) pass as they are; 401 or 403 become 500 (IO's own
  credentials failed); 503 stays 503 with its Retry-After; a redirect is 502, unfollowed;
- a body that is not JSON, or not a ThirdPartyMessage, is 500;
- attachments are fetched only when `has_attachments` is true, all at once; then no
  attachment listed is 502, and an attachment not starting with `%PDF` is 415;
- details and downloads together get the app's budget (`open_budget_ms`, 8 s): what is not
  done in time is 504.

The admin answers differ: 404 for an unknown message or another citizen's, 400 for a message
without third_party_data, 500 naming the spec file when it cannot be read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from jsonschema.protocols import Validator

from consumer.io.models import ThirdPartyData
from consumer.sandbox._asgi import AsyncHandler, Request, Response
from consumer.sandbox.configurations import ConfigurationStore, ProdEnvironment
from consumer.sandbox.messages import MessageStore
from consumer.sandbox.problems import not_found, problem
from consumer.sandbox.routing import Route
from consumer.sandbox.stats import Stats
from consumer.sandbox.third_party_spec import SpecUnavailable, problems_of, schema_validator

OPEN = "/__sandbox/citizens/{fiscal_code}/messages/{message_id}/open"
CALLS = "/__sandbox/remote-content"
PDF_MAGIC = b"%PDF"


@dataclass(slots=True)
class Outcome:
    """What the app gets: a status, and the details or why not."""

    status: int
    detail: str | None = None
    details: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    retry_after: str | None = None

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"status": self.status}
        if self.detail is not None:
            answer["detail"] = self.detail
        if self.details is not None:
            answer["details"] = self.details
        if self.retry_after is not None:
            answer["retry_after"] = self.retry_after
        answer["problems"] = self.problems
        return answer


@dataclass(frozen=True, slots=True)
class ContentServer:
    """One message's calls: where, with which headers, until when (loop time)."""

    client: httpx.AsyncClient
    base_url: str
    headers: dict[str, str]
    deadline: float

    async def get(self, path: str) -> httpx.Response:
        """GET within the budget; raises TimeoutError past it."""
        async with asyncio.timeout_at(self.deadline):
            return await self.client.get(self.base_url.rstrip("/") + path, headers=self.headers)


def sender_failure(response: httpx.Response) -> Outcome | None:
    """io-backend's reading of a non-2xx answer from the sender; None for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        where = response.headers.get("location", "nowhere")
        return Outcome(502, f"the content server answered {status} to {where}; not followed")
    if status in (401, 403):
        return Outcome(500, f"the content server refused IO's credentials ({status})")
    retry_after = response.headers.get("retry-after") if status == 503 else None
    return Outcome(status, f"the content server answered {status}", retry_after=retry_after)


class OpenReplay:
    def __init__(
        self,
        messages: MessageStore,
        configurations: ConfigurationStore,
        stats: Stats,
        io_api_dir: Path | None,
        budget_s: float,
    ) -> None:
        self._messages = messages
        self._configurations = configurations
        self._stats = stats
        self._io_api_dir = io_api_dir
        self._budget_s = budget_s
        self._validator: Validator | None = None

    def routes(self) -> list[Route[AsyncHandler]]:
        return [Route("POST", OPEN, self.open), Route("GET", CALLS, self.calls)]

    async def calls(self, _: Request, __: Mapping[str, str]) -> Response:
        return Response.json(200, {"calls": self._stats.content_calls()})

    async def open(self, _: Request, params: Mapping[str, str]) -> Response:
        fiscal_code, message_id = params["fiscal_code"], params["message_id"]
        stored = self._messages.get(message_id)
        if stored is None or stored.message.fiscal_code != fiscal_code:
            return not_found(f"No message {message_id} for {fiscal_code}")
        third_party = stored.message.content.third_party_data
        if third_party is None:
            detail = f"Message {message_id} has no third_party_data"
            return problem(400, "not-third-party", "Not a third-party message", detail)
        try:
            validator = self._details_validator()
        except SpecUnavailable as exc:
            return problem(500, "spec-unavailable", "IO's spec is unavailable", str(exc))
        configuration = self._configurations.owned(
            third_party.configuration_id or "", stored.caller.account
        )
        environment = None
        if configuration is not None:
            environment = configuration.configuration.environment_for(fiscal_code)
        if environment is None:
            outcome = Outcome(500, "no configuration environment serves this citizen")
            return Response.json(200, outcome.body())
        body = await self._open(third_party, environment, fiscal_code, validator)
        return Response.json(200, body)

    def _details_validator(self) -> Validator:
        if self._validator is None:
            self._validator = schema_validator(self._io_api_dir, "ThirdPartyMessage")
        return self._validator

    async def _open(
        self,
        third_party: ThirdPartyData,
        environment: ProdEnvironment,
        fiscal_code: str,
        validator: Validator,
    ) -> dict[str, Any]:
        authentication = environment.details_authentication
        headers = {authentication.header_key_name: authentication.key, "fiscal_code": fiscal_code}
        deadline = asyncio.get_running_loop().time() + self._budget_s
        message_path = "/messages/" + quote(third_party.id, safe="")
        async with httpx.AsyncClient(follow_redirects=False, timeout=self._budget_s) as client:
            server = ContentServer(client, environment.base_url, headers, deadline)
            outcome = await self._details(server, message_path, validator)
            if outcome.details is None:
                return outcome.body()
            listed = outcome.details.get("attachments") or []
            if not third_party.has_attachments:
                return outcome.body()
            if not listed:
                failed = Outcome(502, "has_attachments is true but no attachment is listed")
                return failed.body()
            downloads = [self._download(server, message_path, item) for item in listed]
            attachments = await asyncio.gather(*downloads)
        return {**outcome.body(), "attachments": list(attachments)}

    async def _details(
        self, server: ContentServer, message_path: str, validator: Validator
    ) -> Outcome:
        """getThirdPartyMessageDetails, checked as IO decodes it."""
        self._stats.content_call("details")
        try:
            response = await server.get(message_path)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(504, "the message details were not received within the app's budget")
        except httpx.TransportError as exc:
            return Outcome(502, f"the content server cannot be reached: {exc!r}")
        failure = sender_failure(response)
        if failure is not None:
            return failure
        try:
            details = json.loads(response.content)
        except ValueError:
            return Outcome(500, "the message details are not JSON")
        problems = problems_of(validator, details)
        if problems:
            return Outcome(500, "the message details are not a ThirdPartyMessage", None, problems)
        return Outcome(200, details=details)

    async def _download(
        self, server: ContentServer, message_path: str, attachment: dict[str, Any]
    ) -> dict[str, Any]:
        """getThirdPartyMessageAttachment for one listed attachment."""
        view: dict[str, Any] = {
            name: attachment.get(name) for name in ("id", "name", "content_type", "url")
        }
        self._stats.content_call("attachments")
        url = str(attachment["url"]).lstrip("/")
        try:
            response = await server.get(f"{message_path}/{url}")
        except (TimeoutError, httpx.TimeoutException):
            return {**view, "status": 504, "detail": "not downloaded within the app's budget"}
        except httpx.TransportError as exc:
            return {**view, "status": 502, "detail": f"unreachable: {exc!r}"}
        failure = sender_failure(response)
        if failure is not None:
            view.update(status=failure.status, detail=failure.detail)
            if failure.retry_after is not None:
                view["retry_after"] = failure.retry_after
            return view
        content = response.content
        if not content.startswith(PDF_MAGIC):
            return {**view, "status": 415, "detail": "the attachment is not a PDF"}
        digest = hashlib.sha256(content).hexdigest()
        return {**view, "status": 200, "size": len(content), "sha256": digest}
