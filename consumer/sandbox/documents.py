"""A stand-in for a public body's document store, where a sender's content server fetches
the PDFs it serves IO as attachments.

It is not part of IO, so it skips the gateway (no subscription key, rate limit, latency or
outage); it wants `Authorization: Bearer <document_token>` instead, and answers 401 without.

    GET    /documents/{path...}                       the bytes, as application/pdf
    GET    /__sandbox/documents                       {path: {"fetches": n, "bytes": size|null}}
    GET    /__sandbox/documents/{path...}             {"path", "fetches", "bytes", "behaviour"}
    PUT    /__sandbox/documents/{path...}             store the raw body (up to 16 MiB)
    DELETE /__sandbox/documents/{path...}             gone: GET answers 404 from now
    POST   /__sandbox/documents/{path...}/behaviour   {"delay_ms": 0, "status": null}; {} resets

Built in: any `certificati/<id>.pdf` neither stored nor deleted is a generated certificate
(`pdf.certificate_pdf`), the same bytes for the same id. `fetches` counts every authorised GET
of a path, whatever was answered.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consumer.sandbox._asgi import PDF, AsyncHandler, Request, Response
from consumer.sandbox.pdf import certificate_pdf
from consumer.sandbox.problems import invalid_body, not_found, problem
from consumer.sandbox.routing import Route

DOCUMENTS = "/documents"
ADMIN_DOCUMENTS = "/__sandbox/documents"
CERTIFICATE = re.compile(r"certificati/([^/]+)\.pdf")
MAX_DELAY_MS = 120_000
AUTHORIZATION = b"authorization"
CHALLENGE = (b"www-authenticate", b'Bearer realm="sandbox-documents"')


class Behaviour(BaseModel):
    """How one document misbehaves: answer late, or answer `status` instead of the bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delay_ms: Annotated[int, Field(ge=0, le=MAX_DELAY_MS)] = 0
    status: Annotated[int, Field(ge=200, le=599)] | None = None

    @property
    def is_normal(self) -> bool:
        return self.delay_ms == 0 and self.status is None


class DocumentStore:
    """Stored and generated documents, their behaviours and how often each was fetched."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self._stored: dict[str, bytes] = {}
        self._deleted: set[str] = set()
        self._behaviours: dict[str, Behaviour] = {}
        self._fetches: Counter[str] = Counter()

    def routes(self) -> list[Route[AsyncHandler]]:
        """The served documents and their admin endpoints (behaviour first: its path would
        also fit the catch-all)."""
        one = ADMIN_DOCUMENTS + "/{path...}"
        return [
            Route("GET", DOCUMENTS + "/{path...}", self.fetch),
            Route("GET", ADMIN_DOCUMENTS, self.overview),
            Route("POST", ADMIN_DOCUMENTS + "/{path...}/behaviour", self.set_behaviour),
            Route("GET", one, self.describe),
            Route("PUT", one, self.store),
            Route("DELETE", one, self.delete),
        ]

    def content(self, path: str) -> bytes | None:
        """The document's bytes now: stored, else a generated certificate, else None."""
        if path in self._stored:
            return self._stored[path]
        if path in self._deleted:
            return None
        certificate = CERTIFICATE.fullmatch(path)
        return None if certificate is None else certificate_pdf(certificate[1])

    async def fetch(self, request: Request, params: Mapping[str, str]) -> Response:
        """The document, to a caller with the bearer token."""
        if not self._authorised(request.header(AUTHORIZATION)):
            response = problem(
                401, "unauthorized", "Unauthorized", "A valid bearer token is needed"
            )
            response.headers.append(CHALLENGE)
            return response
        path = params["path"]
        self._fetches[path] += 1
        behaviour = self._behaviours.get(path, Behaviour())
        if behaviour.delay_ms:
            await asyncio.sleep(behaviour.delay_ms / 1000)
        if behaviour.status is not None:
            detail = f"Sandbox behaviour of {path}: {behaviour.status}"
            return problem(behaviour.status, "document-behaviour", "Document unavailable", detail)
        body = self.content(path)
        if body is None:
            return not_found(f"No document at {path}")
        return Response(200, body, PDF)

    async def overview(self, _: Request, __: Mapping[str, str]) -> Response:
        """Every document stored or fetched: `{path: {"fetches": n, "bytes": size|null}}`."""
        paths = dict.fromkeys([*self._stored, *self._fetches])
        return Response.json(200, {path: self._summary(path) for path in sorted(paths)})

    async def describe(self, _: Request, params: Mapping[str, str]) -> Response:
        path = params["path"]
        behaviour = self._behaviours.get(path, Behaviour())
        view = {"path": path, **self._summary(path), "behaviour": behaviour.model_dump()}
        return Response.json(200, view)

    async def store(self, request: Request, params: Mapping[str, str]) -> Response:
        """The raw body becomes the document, whatever it holds (tests want non-PDFs too)."""
        path = params["path"]
        self._stored[path] = request.body
        self._deleted.discard(path)
        return Response.json(200, {"path": path, **self._summary(path)})

    async def delete(self, _: Request, params: Mapping[str, str]) -> Response:
        """Forget a stored document, or hide a generated one, until it is stored again."""
        path = params["path"]
        self._stored.pop(path, None)
        self._deleted.add(path)
        return Response(204)

    async def set_behaviour(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            behaviour = Behaviour.model_validate_json(request.body or b"{}")
        except ValidationError as exc:
            return invalid_body(exc)
        path = params["path"]
        if behaviour.is_normal:
            self._behaviours.pop(path, None)
        else:
            self._behaviours[path] = behaviour
        return Response.json(200, {"path": path, "behaviour": behaviour.model_dump()})

    def _summary(self, path: str) -> dict[str, Any]:
        body = self.content(path)
        return {"fetches": self._fetches[path], "bytes": None if body is None else len(body)}

    def _authorised(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), self._token)
