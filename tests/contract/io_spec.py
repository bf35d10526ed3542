"""IO's official OpenAPI (Swagger 2.0) specs, and JSON Schema validators that read them as IO does.

The specs are copies kept outside the repository (see ``../shared/io-api/SOURCE.md``); set
``IO_RELAY_IO_API_DIR`` to use another folder. ``load_spec`` raises ``SpecMissing`` when a
file is absent; test modules call ``require_spec`` to skip instead.

``validator_for(spec, "NewMessage")`` validates against ``#/definitions/NewMessage`` with the
spec as root document, so its ``$ref``s resolve. Where Draft 4 and IO's code generator
(``@pagopa/openapi-codegen-ts``, io-ts) read a schema differently, the validator follows IO:

- ``format``: the ``@pagopa/ts-commons`` types behind ``FiscalCode``, ``OrganizationFiscalCode``,
  ``Ulid`` and ``UTCISODateFromString`` (regexes from SOURCE.md; a timestamp must also be a
  real instant), plus ``email`` and ``uri``.
- ``pattern``: ECMA-262, as in JavaScript: ``$`` matches only at the very end (Python's ``$``
  also matches before a final newline) and ``\\d`` is ASCII only.
- ``x-extensible-enum``: the value must be one of those listed.
- ``allOf`` marked ``x-one-of: true`` is a union (any one branch), as the generator emits it.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR_ENV = "IO_RELAY_IO_API_DIR"
DEFAULT_SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "io-api"
SPEC_FILES = {
    # submitMessageforUserWithFiscalCodeInBody, getMessage (basePath /api/v1/messages)
    "messages": "io-messages/apps/services-func/openapi/index.yaml",
    # getProfile, getProfileByPOST and the rest of the services API (basePath /api/v1)
    "services": "io-functions-services/openapi/index.yaml",
    # getThirdPartyMessageDetails and ...Attachment: what a Premium sender serves IO (OpenAPI 3)
    "third-party": "io-backend/openapi/consumed/api-third-party.yaml",
}

_FISCAL_CODE = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
_ORGANIZATION_FISCAL_CODE = re.compile(r"[0-9]{11}")
_ULID = re.compile(r"[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}")
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", re.ASCII)


class SpecMissing(FileNotFoundError):
    """The spec file is not where SPEC_DIR_ENV (or the default) says."""


def spec_dir() -> Path:
    configured = os.environ.get(SPEC_DIR_ENV)
    return Path(configured) if configured else DEFAULT_SPEC_DIR


def spec_path(name: str) -> Path:
    return spec_dir() / SPEC_FILES[name]


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    """The parsed spec `messages`, `services` or `third-party`."""
    path = spec_path(name)
    if not path.is_file():
        raise SpecMissing(
            f"IO's {name} spec is not at {path}; set {SPEC_DIR_ENV} to the folder holding "
            f"{SPEC_FILES[name]}"
        )
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return spec


def require_spec(name: str) -> dict[str, Any]:
    """The spec, or skip the calling test module with where it was looked for."""
    try:
        return load_spec(name)
    except SpecMissing as exc:
        pytest.skip(str(exc), allow_module_level=True)


def validator_for(spec: Mapping[str, Any], definition: str) -> Validator:
    """A validator of `#/definitions/<definition>` of `spec`."""
    return _validator_for_schema(spec, {"$ref": f"#/definitions/{definition}"})


def component_validator(spec: Mapping[str, Any], name: str) -> Validator:
    """A validator of `#/components/schemas/<name>` of an OpenAPI 3 `spec`."""
    return _validator_for_schema(spec, {"$ref": f"#/components/schemas/{name}"})


def response_validator(spec: Mapping[str, Any], operation_id: str, status: int) -> Validator | None:
    """A validator of the body the spec declares for this answer; None if it declares no body.

    Raises KeyError when the spec does not list the status for the operation at all.
    """
    response = operation(spec, operation_id)["responses"][str(status)]
    schema = response.get("schema")
    return None if schema is None else _validator_for_schema(spec, schema)


def operation(spec: Mapping[str, Any], operation_id: str) -> dict[str, Any]:
    for item in spec["paths"].values():
        for candidate in item.values():
            if isinstance(candidate, dict) and candidate.get("operationId") == operation_id:
                return candidate
    raise KeyError(f"no operation {operation_id} in the spec")


_SPEC_URI = "urn:io-relay:io-spec"


def _validator_for_schema(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Validator:
    resource = Resource.from_contents(dict(spec), default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    validator: Validator = IoSpecValidator(
        _rooted(schema), registry=registry, format_checker=FORMATS
    )
    return validator


def _rooted(schema: Any) -> Any:
    """The schema with its local `#/...` refs pointing into the spec document."""
    if isinstance(schema, Mapping):
        return {
            key: _SPEC_URI + value
            if key == "$ref" and isinstance(value, str) and value.startswith("#")
            else _rooted(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rooted(item) for item in schema]
    return schema


def _ecma_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _utf16_min_length(
    validator: Validator, minimum: int, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """IO's JavaScript counts UTF-16 units: an emoji is two."""
    if validator.is_type(instance, "string") and len(instance.encode("utf-16-le")) // 2 < minimum:
        yield ValidationError(f"{instance!r} is shorter than {minimum} UTF-16 units")


def _utf16_max_length(
    validator: Validator, maximum: int, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and len(instance.encode("utf-16-le")) // 2 > maximum:
        yield ValidationError(f"{instance!r} is longer than {maximum} UTF-16 units")


@functools.cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Python's reading of an ECMA-262 pattern: an unescaped `$` becomes `\\Z`, digits ASCII."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern), re.ASCII)


def _extensible_enum(
    validator: Validator, values: list[str], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and instance not in values:
        yield ValidationError(f"{instance!r} is not one of {values}")


def _all_of(
    validator: Validator, branches: list[Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    keyword = "anyOf" if schema.get("x-one-of") else "allOf"
    yield from Draft4Validator.VALIDATORS[keyword](validator, branches, instance, schema)


IoSpecValidator = extend(  # type: ignore[no-untyped-call]
    Draft4Validator,
    {
        "pattern": _ecma_pattern,
        "x-extensible-enum": _extensible_enum,
        "allOf": _all_of,
        "minLength": _utf16_min_length,
        "maxLength": _utf16_max_length,
    },
)


def _is_fiscal_code(value: object) -> bool:
    return not isinstance(value, str) or _FISCAL_CODE.fullmatch(value) is not None


def _is_organization_fiscal_code(value: object) -> bool:
    return not isinstance(value, str) or _ORGANIZATION_FISCAL_CODE.fullmatch(value) is not None


def _is_ulid(value: object) -> bool:
    return not isinstance(value, str) or _ULID.fullmatch(value) is not None


def _is_iso_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _ISO_DATE.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_email(value: object) -> bool:
    """As loose as jsonschema's own check: something before and after the last `@`."""
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    return bool(local and at and domain)


def _is_absolute_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


FORMATS = FormatChecker(formats=())
for _format, _check in {
    "FiscalCode": _is_fiscal_code,
    "OrganizationFiscalCode": _is_organization_fiscal_code,
    "Ulid": _is_ulid,
    "UTCISODateFromString": _is_iso_date,
    "email": _is_email,
    "uri": _is_absolute_uri,
}.items():
    FORMATS.checks(_format)(_check)
