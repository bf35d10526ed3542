"""One error tree, grouped by what the loop does next.

    IoRelayError
    ├── InvalidEvent        the event can never succeed: dead-letter it and move on
    │   ├── DecodeError     bytes, envelope or data do not make a known event
    │   └── RenderError     a rule produced a payload IO would refuse
    ├── TransientError      the world may heal: retry, back off, pause
    ├── FatalError          io-relay cannot do its job as configured: stop, loudly
    │   ├── ConfigurationError
    │   ├── AuthenticationFault
    │   └── TlsFault
    └── ContentNotFound     the content server's one answer to an unknown, forged or
                            another citizen's message id: 404, whatever the reason

Third-party errors (httpx, confluent-kafka, pydantic, jinja2) are translated where they
enter, so the loop never catches a library's exception by name.
"""

from __future__ import annotations

from consumer.redact import mask


class IoRelayError(Exception):
    """Base of every error io-relay raises on purpose."""


class InvalidEvent(IoRelayError):
    """An event that no retry will fix. `stage` and `reason` become DLQ headers and the
    status record's error, so both are masked here: a reason names what is wrong, yet a
    field name or a library's message may still carry a fiscal code."""

    stage = "invalid"

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = mask(reason)
        self.field = mask(field) if field is not None else None
        reason, field = self.reason, self.field
        super().__init__(f"{field}: {reason}" if field else reason)


class DecodeError(InvalidEvent):
    """Also carries the event's id and type when the envelope was readable."""

    stage = "decode"

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self.event_id = event_id
        self.event_type = event_type
        super().__init__(reason, field=field)


class RenderError(InvalidEvent):
    stage = "render"

    def __init__(self, reason: str, *, rule: str, field: str | None = None) -> None:
        self.rule = rule
        super().__init__(reason, field=field)


class TransientError(IoRelayError):
    """Worth another try later: an outage, a timeout, a refusal for rate."""


class FatalError(IoRelayError):
    """Retrying cannot help; the process should stop with this message."""


class ConfigurationError(FatalError):
    pass


class AuthenticationFault(FatalError):
    """A credential was refused (Kafka SASL, or an IO subscription key)."""


class TlsFault(FatalError):
    """The TLS handshake with Kafka failed: the brokers' certificate is not trusted (or not
    for their address) under the CA io-relay was given, or the two sides cannot agree."""


class ContentNotFound(IoRelayError):
    """No such message for this citizen. One error for every reason, so that IO (or whoever
    holds a key) learns nothing by trying ids or fiscal codes."""
