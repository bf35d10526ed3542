"""Load rules files, compile every template once, and refuse a bad file with every reason."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Template, TemplateSyntaxError
from jinja2.environment import TemplateExpression
from pydantic import ValidationError

from consumer.errors import ConfigurationError
from consumer.rules.environment import build_environment
from consumer.rules.model import MessageTemplate, RulesFile, RuleSpec

_RULE_FILE_SUFFIXES = (".yaml", ".yml")


class RulesError(ConfigurationError):
    """Rules that cannot be loaded; `problems` lists each, naming file and rule."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid rules:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule ready to run: its spec, and its templates compiled."""

    spec: RuleSpec
    origin: Path
    condition: TemplateExpression | None
    templates: dict[str, Template]
    literals: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def service(self) -> str:
        return self.spec.service


def load_rules(paths: Iterable[Path]) -> list[Rule]:
    env = build_environment()
    rules: list[Rule] = []
    problems: list[str] = []
    for file in _rule_files(paths, problems):
        for spec in _read_specs(file, problems):
            try:
                rules.append(_compile(env, spec, file))
            except TemplateSyntaxError as exc:
                problems.append(f"{file}: rule {spec.name!r}: template syntax: {exc.message}")
    names = [rule.name for rule in rules]
    problems += [
        f"rule name {n!r} is used more than once" for n in sorted(set(names)) if names.count(n) > 1
    ]
    if problems:
        raise RulesError(problems)
    return rules


def _rule_files(paths: Iterable[Path], problems: list[str]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in _RULE_FILE_SUFFIXES)
        elif path.is_file():
            yield path
        else:
            problems.append(f"{path}: no such file or folder")


def _read_specs(file: Path, problems: list[str]) -> list[RuleSpec]:
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{file}: cannot read: {exc}")
        return []
    try:
        return RulesFile.model_validate(content).rules
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(f"{file}: {_locate(content, error['loc'])}: {error['msg']}")
        return []


def _locate(content: Any, loc: tuple[int | str, ...]) -> str:
    """'rule tari-notice, message.subject' rather than 'rules.0.message.subject'."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = content.get("rules") if isinstance(content, dict) else None
        raw = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        label = f"rule {name!r}" if name else f"rule #{loc[1] + 1}"
        rest = ".".join(str(part) for part in loc[2:])
        return f"{label}, {rest}" if rest else label
    return ".".join(str(part) for part in loc) or "file"


def _compile(env: Any, spec: RuleSpec, origin: Path) -> Rule:
    templates: dict[str, Template] = {}
    literals: dict[str, Any] = {}
    for path, value in _template_fields(spec):
        if isinstance(value, str):
            templates[path] = env.from_string(value)
        elif value is not None:
            literals[path] = value
    condition = env.compile_expression(spec.when) if spec.when else None
    return Rule(spec, origin, condition, templates, literals)


def _template_fields(spec: RuleSpec) -> Iterator[tuple[str, Any]]:
    yield "recipient", spec.recipient
    message: MessageTemplate = spec.message
    for name in MessageTemplate.model_fields:
        if name == "payment_data":
            continue
        yield name, getattr(message, name)
    if message.payment_data is not None:
        for name, value in message.payment_data:
            yield f"payment_data.{name}", value
