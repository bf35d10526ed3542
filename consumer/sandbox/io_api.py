"""IO's services behind the gateway: submit and read messages, check profiles.

Bodies are validated with `consumer.io.models`, the one place that writes IO's constraints
down, so the sandbox refuses exactly what io-relay's own models refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import ValidationError

from consumer.io.models import FiscalCodePayload, NewMessage
from consumer.sandbox._asgi import Request, Response
from consumer.sandbox.auth import Caller
from consumer.sandbox.configurations import ConfigurationStore
from consumer.sandbox.messages import MessageStore
from consumer.sandbox.premium import MANAGE_KEY_CANNOT_SEND, submit_refusal
from consumer.sandbox.problems import forbidden, invalid_body, not_found
from consumer.sandbox.profiles_file import CitizenProfile
from consumer.sandbox.routing import Route

ApiHandler = Callable[[Request, dict[str, str], Caller], Response]

MESSAGES = "/api/v1/messages"
PROFILES = "/api/v1/profiles"
NO_MESSAGE = "No message found for the provided ID."
NO_PROFILE = "No user found for the provided fiscal code."


class IoServices:
    def __init__(
        self,
        citizens: Mapping[str, CitizenProfile],
        store: MessageStore,
        configurations: ConfigurationStore | None = None,
    ) -> None:
        self._citizens = citizens
        self._store = store
        self._configurations = configurations or ConfigurationStore()

    def routes(self) -> list[Route[ApiHandler]]:
        return [
            Route("POST", MESSAGES, self.submit_message),
            Route("GET", MESSAGES + "/{fiscal_code}/{id}", self.get_message),
            Route("POST", PROFILES, self.get_profile_by_post),
            Route("GET", PROFILES + "/{fiscal_code}", self.get_profile),
        ]

    def submit_message(self, request: Request, _: dict[str, str], caller: Caller) -> Response:
        """submitMessageforUserWithFiscalCodeInBody. A citizen without a profile still gets a
        201: IO accepts the message and rejects it later. Premium features the sender may not
        use are refused with 403 (`premium.submit_refusal`), and so is a MANAGE key."""
        if not caller.may_send:
            return forbidden(MANAGE_KEY_CANNOT_SEND)
        try:
            message = NewMessage.model_validate_json(request.body)
        except ValidationError as exc:
            return invalid_body(exc)
        refusal = submit_refusal(message, caller, self._configurations)
        if refusal is not None:
            return forbidden(refusal)
        citizen = self._citizens.get(message.fiscal_code)
        deliverable = citizen is not None and citizen.sender_allowed
        message_id = self._store.add(caller, message, request.body, deliverable=deliverable)
        location = f"{MESSAGES}/{message.fiscal_code}/{message_id}".encode()
        return Response.json(201, {"id": message_id}, headers=[(b"location", location)])

    def get_message(self, _: Request, params: dict[str, str], caller: Caller) -> Response:
        """getMessage: only the sending service sees a message, and only under its recipient."""
        stored = self._store.find(params["id"], params["fiscal_code"], caller.service)
        if stored is None:
            return not_found(NO_MESSAGE)
        return Response.json(200, self._store.view(stored))

    def get_profile(self, _: Request, params: dict[str, str], __: Caller) -> Response:
        try:
            payload = FiscalCodePayload.model_validate({"fiscal_code": params["fiscal_code"]})
        except ValidationError as exc:
            return invalid_body(exc)
        return self._profile(payload.fiscal_code)

    def get_profile_by_post(self, request: Request, _: dict[str, str], __: Caller) -> Response:
        try:
            payload = FiscalCodePayload.model_validate_json(request.body)
        except ValidationError as exc:
            return invalid_body(exc)
        return self._profile(payload.fiscal_code)

    def _profile(self, fiscal_code: str) -> Response:
        """LimitedProfile; 404 when the citizen has no IO profile."""
        citizen = self._citizens.get(fiscal_code)
        if citizen is None:
            return not_found(NO_PROFILE)
        return Response.json(200, citizen.model_dump(mode="json", exclude_none=True))
