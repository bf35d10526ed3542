"""The sandbox as one ASGI app: IO's services behind a stand-in for IO's API gateway.

An API call goes through the same steps as at IO, in this order:

    latency → outage (503) → key (401) → rate limit (429) → injected fault → IO service → answer

An outage (started with `POST /__sandbox/outage`) stands for IO down as a whole, gateway
included: nothing behind it is reached, not even the key check. The admin endpoints under
/__sandbox skip all of these steps, and so do the routes that are not IO's API: the document
store stand-in (`documents.py`) and IO's backend opening a Premium message
(`remote_content.py`), which wait on something and so are async.
"""

from __future__ import annotations

import asyncio

from consumer.sandbox._asgi import (
    MAX_BODY_BYTES,
    MAX_DOCUMENT_BYTES,
    AsyncHandler,
    BodyTooLarge,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    drop_connection,
    read_request,
    send_response,
)
from consumer.sandbox.admin import PREFIX, Admin, AdminHandler, Outage
from consumer.sandbox.auth import Authenticator, Caller, KeyRefused
from consumer.sandbox.configurations import ConfigurationsApi, ConfigurationStore
from consumer.sandbox.documents import ADMIN_DOCUMENTS, DocumentStore
from consumer.sandbox.faults import FaultInjector
from consumer.sandbox.io_api import ApiHandler, IoServices
from consumer.sandbox.messages import MessageStore
from consumer.sandbox.problems import (
    gateway_refusal,
    injected_error,
    not_found,
    problem,
    rate_limit_exceeded,
)
from consumer.sandbox.profiles_file import load_profiles_file
from consumer.sandbox.rate_limit import SlidingWindowLimiter
from consumer.sandbox.remote_content import OpenReplay
from consumer.sandbox.routing import Match, MethodNotAllowed, Route, Router
from consumer.sandbox.settings import FaultKind, SandboxSettings
from consumer.sandbox.stats import Stats

SUBSCRIPTION_KEY = b"ocp-apim-subscription-key"
REMAINING = b"x-rate-limit-remaining"


class SandboxApp:
    def __init__(self, settings: SandboxSettings) -> None:
        profiles_file = load_profiles_file(settings.profiles)
        store = MessageStore(settings.processing_delay_ms / 1000)
        configurations = ConfigurationStore()
        configurations_api = ConfigurationsApi(configurations)
        self._stats = Stats()
        self._outage = Outage()
        admin = Admin(store, self._stats, self._outage).routes()
        admin.append(Route("GET", PREFIX + "/configurations", configurations_api.admin_view))
        self._admin = Router[AdminHandler](admin)
        documents = DocumentStore(settings.document_token.get_secret_value())
        replay = OpenReplay(
            store,
            configurations,
            self._stats,
            settings.io_api_dir,
            settings.open_budget_ms / 1000,
        )
        self._direct = Router[AsyncHandler](documents.routes() + replay.routes())
        services = IoServices(profiles_file.profiles, store, configurations)
        self._api = Router[ApiHandler](services.routes() + configurations_api.routes())
        self._auth = Authenticator(profiles_file.subscriptions)
        policy = settings.rate_limit
        self._limiter = None if policy is None else SlidingWindowLimiter(policy)
        self._faults = FaultInjector(settings.fault_rate, settings.faults, settings.seed)
        self._latency_s = settings.latency_ms / 1000
        self._slow_s = settings.slow_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan or websocket support is needed
        try:
            request = await read_request(scope, receive, body_limit(scope))
            response = await self._answer(request, send)
        except BodyTooLarge as exc:
            response = problem(413, "payload-too-large", "Payload too large", str(exc))
        except MethodNotAllowed as exc:
            response = problem(405, "method-not-allowed", "Method not allowed", str(exc))
            response.headers.append((b"allow", str(exc).encode()))
        if response is not None:
            await send_response(send, response)

    async def _answer(self, request: Request, send: Send) -> Response | None:
        """The answer, or None when the connection was dropped instead."""
        admin = self._admin.match(request.method, request.path)
        if admin is not None:
            return admin.route.target(request, admin.params)
        direct = self._direct.match(request.method, request.path)
        if direct is not None:
            return await direct.route.target(request, direct.params)
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        api = self._api.match(request.method, request.path)
        if api is None:
            return not_found(f"No operation at {request.method} {request.path}")
        remaining_s = self._outage.remaining_s
        if remaining_s > 0:
            response: Response | None = unavailable(remaining_s)
        else:
            response = await self._through_gateway(request, api, send)
        if response is None:
            self._stats.dropped(api.route.name)
        else:
            self._stats.answered(api.route.name, response.status)
        return response

    async def _through_gateway(
        self, request: Request, match: Match[ApiHandler], send: Send
    ) -> Response | None:
        try:
            caller = self._auth.identify(request.header(SUBSCRIPTION_KEY))
        except KeyRefused as exc:
            return gateway_refusal(401, exc.reason)
        if self._limiter is None:
            return await self._serve(request, match, caller, send)
        admission = self._limiter.admit(caller.account)
        if not admission.accepted:
            self._stats.rate_limited()
            return rate_limit_exceeded(admission.retry_after_s)
        response = await self._serve(request, match, caller, send)
        if response is not None:
            response.headers.append((REMAINING, str(admission.remaining).encode()))
        return response

    async def _serve(
        self, request: Request, match: Match[ApiHandler], caller: Caller, send: Send
    ) -> Response | None:
        """The IO service's answer, unless an injected fault replaces or delays it."""
        fault = self._faults.draw()
        if fault is None:
            return match.route.target(request, match.params, caller)
        self._stats.fault(fault.kind)
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(self._slow_s)
            return match.route.target(request, match.params, caller)
        if fault.kind is FaultKind.DROP:
            if fault.after_effect:
                match.route.target(request, match.params, caller)
            await drop_connection(send)
            return None
        return injected_error(int(fault.kind.value))


def body_limit(scope: Scope) -> int:
    """Bytes a request body may have: more for a document uploaded to the document store."""
    if scope["method"] == "PUT" and str(scope["path"]).startswith(ADMIN_DOCUMENTS + "/"):
        return MAX_DOCUMENT_BYTES
    return MAX_BODY_BYTES


def unavailable(remaining_s: float) -> Response:
    """IO down (a sandbox outage): a ProblemJson 503, with no hint of when it ends."""
    return problem(
        503,
        "service-unavailable",
        "Service unavailable",
        f"IO is unavailable (sandbox outage, {remaining_s:.1f} s left)",
    )


def create_app(settings: SandboxSettings) -> SandboxApp:
    """The ASGI app, for uvicorn or in-process use (httpx.ASGITransport).

    Reads the profiles file now, so a bad one raises ConfigurationError before serving.
    """
    return SandboxApp(settings)
