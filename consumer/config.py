"""Every setting io-relay reads, in one typed, frozen place.

Sources, strongest first: environment variables `IO_RELAY_<SECTION>__<KEY>`, then the YAML
file given with `--config`, then the defaults below. Secrets (IO subscription keys) may come
from their own environment variable or file; they are held as `SecretStr`, so they never
print. Nothing else in the package reads the environment.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from consumer.content.settings import ContentSettings
from consumer.errors import ConfigurationError
from consumer.history.settings import HistorySettings
from consumer.io.client import LostSubmit
from consumer.io.models import FISCAL_CODE_PATTERN, ULID_PATTERN
from consumer.kafka_client import librdkafka_settings
from consumer.rules.link_hosts import check_host
from consumer.rules.loader import DEFAULT_PERSONAL_DATA_FIELDS
from consumer.secret_source import KeySource

ENV_PREFIX = "IO_RELAY_"
PRODUCTION_IO_BASE_URL = "https://api.io.pagopa.it"

# librdkafka settings that would break io-relay's delivery guarantees if passed through.
_RESERVED_KAFKA_SETTINGS = frozenset(
    {
        "enable.auto.commit",
        "enable.auto.offset.store",
        "group.id",
        "bootstrap.servers",
        "enable.idempotence",
        "acks",
        # read_committed: a replay's aborted transaction must stay unseen (operations/replay.py)
        "isolation.level",
    }
)


class _Section(BaseModel):
    # A wrong setting's error names it, never shows its value: it may be a password.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "io-relay"
    input_topics: Annotated[list[str], Field(min_length=1)] = ["io-relay.events"]
    status_topic: str = "io-relay.status"
    dlq_topic: str = "io-relay.dlq"
    tracking_topic: str = Field(
        default="io-relay.tracking",
        description="the messages under tracking, keyed by IO message id (compacted)",
    )
    content_topic: str = Field(
        default="io-relay.content",
        description="remote content, sealed, for `io-relay content` (compacted)",
    )
    replay_topic: str = Field(
        default="io-relay.replays",
        description="the dead letters `io-relay dlq replay` sent back, by DLQ position (compacted)",
    )
    client: dict[str, str | SecretStr] = Field(
        default_factory=dict,
        description="librdkafka settings passed through (security.protocol, sasl.*, ssl.*); "
        "passwords, secrets and private keys are held as secrets",
    )

    @field_validator("client", mode="before")
    @classmethod
    def _as_librdkafka_settings(cls, value: object) -> object:
        """Refuses what io-relay manages, takes YAML's numbers and booleans as librdkafka's
        strings, and holds the secret-bearing settings as secrets from here on."""
        if not isinstance(value, dict):
            return value
        reserved = sorted(_RESERVED_KAFKA_SETTINGS & value.keys())
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)} cannot be set here: io-relay manages them "
                "to keep its delivery guarantees"
            )
        return librdkafka_settings(value)

    def librdkafka(self) -> dict[str, str]:
        """`client` with its secrets revealed: for librdkafka's configuration only."""
        return {
            name: setting.get_secret_value() if isinstance(setting, SecretStr) else setting
            for name, setting in self.client.items()
        }


class AccountSettings(_Section):
    """An IO account: its services share one gateway rate limit."""

    calls: Annotated[int, Field(gt=0)] = Field(
        default=150,
        description="what IO grants the account in per_seconds, for all replicas together",
    )
    per_seconds: Annotated[float, Field(gt=0)] = 5.0
    margin_s: Annotated[float, Field(ge=0)] = Field(
        default=0.1, description="added to the window: the gap between sending and being counted"
    )
    manage: KeySource | None = Field(
        default=None,
        description="the account's MANAGE key, for `io-relay remote-content` only",
    )


class RetrySettings(_Section):
    max_attempts: Annotated[int, Field(ge=1)] = 6
    max_elapsed_s: Annotated[float, Field(gt=0)] = 120.0
    initial_backoff_s: Annotated[float, Field(gt=0)] = 0.5
    max_backoff_s: Annotated[float, Field(gt=0)] = 30.0


class ProfileCacheSettings(_Section):
    ttl_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    max_entries: Annotated[int, Field(ge=1)] = 10_000


class ServiceSettings(KeySource):
    """An IO service, and where its subscription key comes from (exactly one of three)."""

    account: str = "default"
    configuration_id: Annotated[str, Field(pattern=ULID_PATTERN)] | None = Field(
        default=None,
        description="its remote-content configuration (`io-relay remote-content create` "
        "prints it): needed by rules with attachments or remote_content",
    )

    def subscription_key(self) -> SecretStr:
        """The key itself, read now from wherever it lives."""
        return self.secret()


class IoSettings(_Section):
    base_url: str = PRODUCTION_IO_BASE_URL
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    read_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    total_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    retry: RetrySettings = RetrySettings()
    lost_submit: LostSubmit = Field(
        default=LostSubmit.REPORT_UNKNOWN,
        description="a submit whose answer never came: report_unknown (never a double send) "
        "or retry (may send a citizen the same message twice)",
    )
    profile_cache: ProfileCacheSettings = ProfileCacheSettings()
    forbidden_before_fault: Annotated[int, Field(ge=1)] = Field(
        default=5, description="consecutive 403s on one service that make it a configuration fault"
    )
    accounts: dict[str, AccountSettings] = Field(
        default_factory=lambda: {"default": AccountSettings()}
    )
    services: dict[str, ServiceSettings] = Field(default_factory=dict)
    test_fiscal_code: Annotated[str, Field(pattern=FISCAL_CODE_PATTERN)] | None = Field(
        default=None,
        description="for `io-relay doctor`: one profile call per service checks its key",
    )

    @model_validator(mode="after")
    def _services_name_known_accounts(self) -> Self:
        for name, service in self.services.items():
            if service.account not in self.accounts:
                known = ", ".join(sorted(self.accounts)) or "none"
                raise ValueError(
                    f"service {name!r} names account {service.account!r}, "
                    f"which is not under io.accounts (known: {known})"
                )
        return self


class FiscalCodeSettings(_Section):
    strict: bool = Field(default=False, description="also check the check character and omocodia")
    allow: list[Annotated[str, Field(pattern=FISCAL_CODE_PATTERN)]] = Field(
        default_factory=list, description="codes accepted in strict mode anyway (sandbox ones)"
    )


class EventSettings(_Section):
    schema_dirs: list[Path] = Field(
        default_factory=list, description="folders of JSON Schemas of operator-added types"
    )
    fiscal_codes: FiscalCodeSettings = FiscalCodeSettings()


class RuleSettings(_Section):
    """`rules:` as a mapping; the list form `rules: [rules/]` is short for `paths`."""

    paths: list[Path] = Field(
        default_factory=list, description="rules files, or folders of them, read in order"
    )
    allowed_link_hosts: list[Annotated[str, AfterValidator(check_host)]] = Field(
        default_factory=list,
        description="hosts every rule's link() may lead to ('*.' before a name: its subdomains)",
    )


class RuleCheckSettings(_Section):
    personal_data_fields: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_PERSONAL_DATA_FIELDS),
        description="event fields a subject may not show",
    )


class RuntimeSettings(_Section):
    max_in_flight: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=256, description="events held at once; past it the partitions are paused"
    )
    commit_interval_s: Annotated[float, Field(gt=0)] = 1.0
    drain_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=20.0, description="on revoke, how long submits already sent may get IO's answer"
    )
    shutdown_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=30.0,
        description="on SIGTERM, how long submits already sent may get IO's answer; the "
        "process exits within this plus 5 s",
    )
    ledger_lookback: Annotated[int, Field(ge=1_000)] = Field(
        default=50_000,
        description="status records read back for a partition whose commit has no replay "
        "point (a new group, an offset reset by hand)",
    )


class TrackingSettings(_Section):
    """Following each SUBMITTED message to PROCESSED or REJECTED, and Premium read/payment."""

    enabled: bool = Field(
        default=True, description="false: SUBMITTED is the last word on a message"
    )
    checks_after_s: Annotated[list[PositiveFloat], Field(min_length=1)] = Field(
        default_factory=lambda: [30.0, 120.0, 600.0, 3600.0, 21_600.0, 86_400.0],
        description="when to ask IO, in seconds after the submit, increasing",
    )
    then_every_s: PositiveFloat = Field(
        default=172_800.0, description="after the last of checks_after_s, how often to ask again"
    )
    check_after_due_s: PositiveFloat | None = Field(
        default=3600.0,
        description="one more check this long after a payable message's due date, while its "
        "payment is open (null: none)",
    )
    horizon_s: PositiveFloat = Field(
        default=172_800.0,
        description="after the submit, when a message IO has not processed is given up on",
    )
    premium_horizon_s: PositiveFloat = Field(
        default=2_592_000.0,
        description="ADVANCED messages: how long after the due date (or the submit, without "
        "one) read and payment status are followed",
    )
    budget_share: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="the share of each IO account's rate that checks may use"
    )
    max_checks_in_flight: Annotated[int, Field(ge=1, le=1000)] = 16
    max_held: Annotated[int, Field(ge=100)] = Field(
        default=50_000,
        description="tracking records held in memory until due (about 1.3 KB each); past it, "
        "reading the tracking topic pauses",
    )

    @field_validator("checks_after_s")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(later <= earlier for earlier, later in pairwise(value)):
            raise ValueError("must be strictly increasing (seconds after the submit)")
        return value


class ObservabilitySettings(_Section):
    host: str = Field(default="0.0.0.0", description="where /metrics, /healthz, /readyz listen")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=9400, description="0: no HTTP server (no metrics, no probes)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    lag_interval_s: Annotated[float, Field(gt=0)] = Field(
        default=10.0, description="how often the broker is asked for the partitions' lag"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    io: IoSettings = IoSettings()
    rules: RuleSettings = RuleSettings()
    rule_checks: RuleCheckSettings = RuleCheckSettings()
    events: EventSettings = EventSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    tracking: TrackingSettings = TrackingSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    content: ContentSettings = ContentSettings()
    history: HistorySettings = HistorySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init arguments; the environment must win over it.
        return (env_settings, init_settings)

    @field_validator("rules", mode="before")
    @classmethod
    def _rules_as_list(cls, value: object) -> object:
        return _rules_mapping(value)

    @model_validator(mode="after")
    def _checks_leave_room_for_events(self) -> Self:
        # Checks run on the scheduler that holds input events: too many would fill it and
        # stall input.
        most = max(1, self.runtime.max_in_flight // 4)
        if self.tracking.enabled and self.tracking.max_checks_in_flight > most:
            raise ValueError(
                f"tracking.max_checks_in_flight ({self.tracking.max_checks_in_flight}) may be "
                f"at most a quarter of runtime.max_in_flight ({self.runtime.max_in_flight}): "
                "checks share the room events need"
            )
        return self


def load_settings(config_file: Path | None = None) -> Settings:
    """Read and validate the configuration, or raise one ConfigurationError saying all wrongs."""
    from_file = _read_yaml(config_file) if config_file else {}
    if "rules" in from_file:
        # As a mapping before the sources merge, so IO_RELAY_RULES__* adds to the file's.
        from_file["rules"] = _rules_mapping(from_file["rules"])
    try:
        settings = Settings(**from_file)
    except ValidationError as exc:
        raise ConfigurationError(_explain(exc, config_file)) from None
    base = config_file.parent if config_file else Path.cwd()

    def resolve(paths: list[Path]) -> list[Path]:
        return [path if path.is_absolute() else base / path for path in paths]

    events = settings.events.model_copy(
        update={"schema_dirs": resolve(settings.events.schema_dirs)}
    )
    rules = settings.rules.model_copy(update={"paths": resolve(settings.rules.paths)})
    return settings.model_copy(update={"rules": rules, "events": events})


def _rules_mapping(value: object) -> object:
    return {"paths": value} if isinstance(value, list | tuple) else value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # The problem and where, never PyYAML's quote of the lines: they may hold a key.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigurationError(
            f"config file {path} is not valid YAML: {problem}{where}"
        ) from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigurationError(f"config file {path} must hold a mapping at the top level")
    return content


def _explain(error: ValidationError, config_file: Path | None) -> str:
    where = f"in {config_file} or the environment" if config_file else "in the environment"
    lines = [f"invalid configuration {where}:"]
    for problem in error.errors():
        if not problem["loc"]:
            # A rule across sections: its message names the settings itself.
            lines.append(f"  {problem['msg'].removeprefix('Value error, ')}")
            continue
        dotted = ".".join(str(part) for part in problem["loc"])
        env_name = ENV_PREFIX + "__".join(str(part) for part in problem["loc"]).upper()
        lines.append(f"  {dotted}: {problem['msg']}  (env: {env_name})")
    return "\n".join(lines)
