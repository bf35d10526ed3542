"""The sandbox's citizens and subscription keys, read once from a JSON or YAML file.

Two shapes are accepted. The short one lists citizens only::

    AAAAAA00A00A000A: {sender_allowed: true, preferred_languages: [it_IT]}

The long one adds subscription keys, each naming its IO service and account (the rate
limit is per account)::

    profiles:
      AAAAAA00A00A000A: {sender_allowed: true}
    subscriptions:
      key-1: {service: tari, account: comune}
      manage-1: {service: tari, account: comune, manage: true}

A `manage` key stands for IO's MANAGE subscription: it alone may call the remote-content
configuration API, and it may not submit messages.

A bad file stops the sandbox at start with the entry at fault, never at the first call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from consumer.errors import ConfigurationError
from consumer.io.models import FiscalCode, OrganizationFiscalCode

# The values IO's LimitedProfile lists for preferred_languages (an x-extensible-enum).
PreferredLanguage = Literal["it_IT", "en_GB", "es_ES", "de_DE", "fr_FR"]
Name = Annotated[str, StringConstraints(min_length=1)]

# Stands in for the organisation of a service when the file names none; IO fills a missing
# payment payee with the sender's organisation fiscal code.
DEFAULT_ORGANIZATION_FISCAL_CODE = "00000000000"
_LONG_FORM_KEYS = frozenset({"profiles", "subscriptions"})


class _Entry(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class CitizenProfile(_Entry):
    sender_allowed: bool
    preferred_languages: list[PreferredLanguage] | None = None


class Subscription(_Entry):
    service: Name
    account: Name
    organization_fiscal_code: OrganizationFiscalCode = DEFAULT_ORGANIZATION_FISCAL_CODE
    manage: bool = False


class ProfilesFile(_Entry):
    profiles: dict[FiscalCode, CitizenProfile] = Field(default_factory=dict)
    # None: any key is accepted; a mapping: only these keys are.
    subscriptions: dict[Name, Subscription] | None = None


def load_profiles_file(path: Path | None) -> ProfilesFile:
    """The file's content, validated; no file means no citizens and any key."""
    if path is None:
        return ProfilesFile()
    data = _read(path)
    if data is None:
        return ProfilesFile()
    if isinstance(data, dict) and data and data.keys() <= _LONG_FORM_KEYS:
        document = data
    else:
        document = {"profiles": data}
    try:
        return ProfilesFile.model_validate(document)
    except ValidationError as exc:
        raise ConfigurationError(f"profiles file {path}: {_describe(exc)}") from None


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read profiles file {path}: {exc}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in {".yaml", ".yml"}:
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"profiles file {path} is not valid {suffix[1:]}: {exc}") from None
    raise ConfigurationError(f"profiles file {path} must end in .json, .yaml or .yml")


def _describe(exc: ValidationError) -> str:
    """`profiles.XXX.sender_allowed: Field required`, one clause per problem."""
    clauses = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if part != "[key]")
        clauses.append(f"{where or 'document'}: {error['msg']}")
    return "; ".join(clauses)
