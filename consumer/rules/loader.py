"""Load rules files, compile every template once, and refuse a bad file with every reason.

A rule is refused, with its file and line, when its file does not validate, a template does
not compile, its event type is unknown, its subject prints personal data, or its own example
event does not render into a message IO would accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, nodes
from pydantic import ValidationError

from consumer.errors import ConfigurationError, InvalidEvent
from consumer.events import Event
from consumer.events.registry import EventTypes
from consumer.rules.compiled import Rule, Texts
from consumer.rules.conditions import compile_condition
from consumer.rules.content import ContentChecks, compile_content, content_problems, render_content
from consumer.rules.environment import Environments, build_environments
from consumer.rules.fields import FieldTemplate, compile_field
from consumer.rules.link_hosts import LinkHosts
from consumer.rules.model import DEFAULT_LANGUAGE, MessageTemplate, RulesFile, RuleSpec
from consumer.rules.render import example_event, render
from consumer.rules.route import holds

_RULE_FILE_SUFFIXES = (".yaml", ".yml")

# Names of event fields that identify a citizen or their debts: never in a subject, which IO
# shows in notifications and lock screens (IO's own guidance).
DEFAULT_PERSONAL_DATA_FIELDS = frozenset(
    {
        "recipient_fiscal_code",
        "fiscal_code",
        "codice_fiscale",
        "name",
        "first_name",
        "last_name",
        "surname",
        "full_name",
        "recipient_name",
        "amount",
        "amount_cents",
        "email",
        "phone",
        "address",
        "birth_date",
        "date_of_birth",
    }
)


class RulesError(ConfigurationError):
    """Rules that cannot be loaded; `problems` lists each, naming file, line and rule."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid rules:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class RuleChecks:
    """What load-time safety checks refuse; operators may widen or narrow the list."""

    personal_data_fields: frozenset[str] = DEFAULT_PERSONAL_DATA_FIELDS
    allowed_link_hosts: frozenset[str] = frozenset()
    """Hosts every rule's link() may lead to (`rules.allowed_link_hosts`)."""
    content: ContentChecks = field(default_factory=ContentChecks)


def load_rules(
    paths: Iterable[Path],
    types: EventTypes | None = None,
    checks: RuleChecks | None = None,
) -> list[Rule]:
    loader = _Loader(types or EventTypes(), checks or RuleChecks(), build_environments())
    rules = [rule for file in loader.files(paths) for rule in loader.read(file)]
    names = [rule.name for rule in rules]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    loader.problems += [f"rule name {name!r} is used more than once" for name in duplicated]
    if loader.problems:
        raise RulesError(loader.problems)
    return rules


class _Loader:
    def __init__(self, types: EventTypes, checks: RuleChecks, envs: Environments) -> None:
        self.types = types
        self.checks = checks
        self.envs = envs
        self.problems: list[str] = []

    def files(self, paths: Iterable[Path]) -> Iterator[Path]:
        for path in paths:
            if path.is_dir():
                yield from sorted(p for p in path.iterdir() if p.suffix in _RULE_FILE_SUFFIXES)
            elif path.is_file():
                yield path
            else:
                self.problems.append(f"{path}: no such file or folder")

    def read(self, file: Path) -> list[Rule]:
        try:
            text = file.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            content = yaml.safe_load(text)
        except OSError as exc:
            self.problems.append(f"{file}: cannot read: {exc.strerror}")
            return []
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            self.problems.append(f"{file}{line}: not valid YAML: {exc}")
            return []
        try:
            specs = RulesFile.model_validate(content).rules
        except ValidationError as exc:
            for error in exc.errors():
                where = _line(root, error["loc"])
                self.problems.append(
                    f"{file}:{where}: {_label(content, error['loc'])}: {error['msg']}"
                )
            return []
        rules = []
        for index, spec in enumerate(specs):
            origin = f"{file}:{_line(root, ('rules', index))}"
            rule = self.compile(spec, origin)
            if rule is not None and self.check(rule):
                rules.append(rule)
        return rules

    def compile(self, spec: RuleSpec, origin: str) -> Rule | None:
        text, markdown = self.envs.text, self.envs.markdown
        try:
            texts = {
                DEFAULT_LANGUAGE: Texts(
                    compile_field(text, spec.message.subject),
                    compile_field(markdown, spec.message.markdown, values_escaped=True),
                )
            }
            for language, words in spec.translations.items():
                texts[language] = Texts(
                    compile_field(text, words.subject),
                    compile_field(markdown, words.markdown, values_escaped=True),
                )
            templates: dict[str, FieldTemplate] = {}
            literals: dict[str, Any] = {}
            for path, value in _message_fields(spec.message):
                if isinstance(value, str):
                    templates[path] = compile_field(text, value)
                elif value is not None:
                    literals[path] = value
            attachments, remote = compile_content(spec, self.envs)
            return Rule(
                spec=spec,
                origin=origin,
                condition=compile_condition(text, spec.when) if spec.when else None,
                recipient=compile_field(text, spec.recipient),
                texts=texts,
                templates=templates,
                literals=literals,
                link=LinkHosts.of(self.checks.allowed_link_hosts, spec.allowed_link_hosts).link(),
                attachments=attachments,
                remote=remote,
            )
        except TemplateSyntaxError as exc:
            self._refuse(origin, spec.name, f"template syntax, line {exc.lineno}: {exc.message}")
            return None

    def check(self, rule: Rule) -> bool:
        """The load-time safety checks; every failure is recorded, not only the first."""
        before = len(self.problems)
        if rule.spec.event_type not in self.types.known():
            known = ", ".join(self.types.known())
            self._refuse(
                rule.origin,
                rule.name,
                f"unknown event_type {rule.spec.event_type!r} (known: {known})",
            )
            return False
        subjects = [rule.spec.message.subject]
        subjects += [words.subject for words in rule.spec.translations.values()]
        for subject in subjects:
            personal = _personal_data_in(self.envs.text.parse(subject), self.checks)
            if personal:
                self._refuse(
                    rule.origin,
                    rule.name,
                    f"the subject shows personal data "
                    f"({', '.join(personal)}): IO shows subjects "
                    "in notifications; move it to the markdown",
                )
        for problem in content_problems(rule, self.checks.content):
            self._refuse(rule.origin, rule.name, problem)
        if len(self.problems) == before:
            self._check_example(rule)
        return len(self.problems) == before

    def _check_example(self, rule: Rule) -> None:
        try:
            event = example_event(rule, self.types)
            if not holds(rule, event):
                self._refuse(rule.origin, rule.name, "its example does not match its own `when`")
                return
            self._render_every_language(rule, event)
        except InvalidEvent as error:
            self._refuse(rule.origin, rule.name, f"its example does not render: {error}")
            return
        try:
            lean = example_event(rule, self.types, required_only=True)
            if holds(rule, lean):
                self._render_every_language(rule, lean)
        except InvalidEvent as error:
            self._refuse(
                rule.origin,
                rule.name,
                f"it fails on an event without the optional fields ({error}): "
                "guard them with `is defined` or `| default(...)`",
            )

    def _render_every_language(self, rule: Rule, event: Event) -> None:
        for language in rule.texts:
            message = render(rule, event, (language,), self.types.fiscal_codes)
        if rule.premium:
            render_content(rule, event, message, self.checks.content.sources)

    def _refuse(self, origin: str, name: str, reason: str) -> None:
        self.problems.append(f"{origin}: rule {name!r}: {reason}")


def _message_fields(message: MessageTemplate) -> Iterator[tuple[str, Any]]:
    """The message's fields other than the words, as dotted paths."""
    for name in ("due_date", "feature_level_type", "time_to_live", "require_secure_channels"):
        yield name, getattr(message, name)
    if message.payment_data is not None:
        for name, value in message.payment_data:
            yield f"payment_data.{name}", value


def _personal_data_in(tree: nodes.Template, checks: RuleChecks) -> list[str]:
    named: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Getattr):
            named.add(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            named.add(str(node.arg.value))
    whole_data = any(
        isinstance(output, nodes.Name) and output.name == "data"
        for out in tree.find_all(nodes.Output)
        for output in out.nodes
    )
    found = sorted(named & checks.personal_data_fields)
    return [*found, "the whole data object"] if whole_data else found


def _line(root: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """The line of the deepest node of `loc` that exists: where the operator should look."""
    node = root
    line = root.start_mark.line + 1 if root is not None else 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: int | str) -> yaml.Node | None:
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [
            value
            for key, value in node.value
            if isinstance(key, yaml.ScalarNode) and key.value == str(part)
        ]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        children = [node.value[part]]
    return children[0] if children else None


def _label(content: Any, loc: Sequence[int | str]) -> str:
    """'rule 'tari-notice', message.subject' rather than 'rules.0.message.subject'."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = content.get("rules") if isinstance(content, dict) else None
        raw = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        label = f"rule {name!r}" if name else f"rule #{loc[1] + 1}"
        rest = ".".join(str(part) for part in loc[2:])
        return f"{label}, {rest}" if rest else label
    return ".".join(str(part) for part in loc) or "file"
