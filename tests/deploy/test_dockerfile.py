"""The Dockerfile and .dockerignore, read as text: no Docker engine is needed (or available).

What is checked is what the deployment artifacts rely on: a slim multi-stage image with no
compiler in the final stage, an unprivileged user, the entrypoint and port the Kubernetes
manifests and compose file use, a health check on /healthz, and a build context that carries
the sources and nothing local.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

from consumer.config import ObservabilitySettings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SLIM_PYTHON = re.compile(r"^python:3\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "g++", "clang", "build-essential", "make", "python3-dev", "librdkafka-dev")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def one(self, instruction: str) -> str:
        found = self.all(instruction)
        assert len(found) == 1, f"stage {self.name or self.base}: {len(found)} {instruction}"
        return found[0]


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages, each with its (INSTRUCTION, arguments); continuations joined, comments out."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    stages: list[Stage] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"{instruction} before the first FROM"
            stages[-1].instructions.append((instruction, args))
    return stages


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list), f"not the exec (JSON) form: {args}"
    return [str(item) for item in parsed]


def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out: a pattern matches it or a parent folder.

    A subset of Docker's rules, enough for this file: `**/x` matches x at any depth; `!`
    exceptions are refused by test_dockerignore_has_no_exceptions rather than handled.
    """
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    for pattern in patterns:
        cleaned = pattern.strip("/")
        if cleaned.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, cleaned[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatchcase(prefix, cleaned) for prefix in prefixes):
            return True
    return False


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_the_parser_joins_continuations_and_splits_stages() -> None:
    parsed = parse_dockerfile("# c\nFROM a:1 AS one\nRUN x \\\n    && y\n\nFROM b:2\nUSER 5\n")
    assert [(stage.base, stage.name) for stage in parsed] == [("a:1", "one"), ("b:2", None)]
    assert parsed[0].instructions == [("RUN", "x && y")]
    assert parsed[1].one("USER") == "5"


def test_builds_in_one_stage_and_runs_in_a_slim_python(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    build, final = stages[0], stages[-1]
    assert SLIM_PYTHON.match(final.base), final.base
    # The virtualenv copied from the build stage links to that stage's interpreter: the two
    # stages must share the base image, or /opt/venv/bin/python dangles.
    assert build.base == final.base


def test_the_build_stage_installs_the_project_from_its_wheel(stages: list[Stage]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    build = stages[0]
    copied = {word.rstrip("/") for args in build.all("COPY") for word in shlex.split(args)[:-1]}
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    # hatchling reads the readme named in pyproject.toml and packs the listed packages.
    assert {"pyproject.toml", pyproject["project"]["readme"], *packages} <= copied
    run = " ".join(build.all("RUN"))
    assert "pip wheel" in run
    assert (
        f"pip install --no-deps /tmp/wheels/{pyproject['project']['name'].replace('-', '_')}-*.whl"
        in run
    )
    assert "/opt/venv" in run


def test_the_build_stage_installs_the_dependencies_from_the_hashed_lock(
    stages: list[Stage],
) -> None:
    build = stages[0]
    runs = build.all("RUN")
    locked = [i for i, run in enumerate(runs) if "--require-hashes -r requirements.lock" in run]
    wheel = [i for i, run in enumerate(runs) if "pip wheel" in run]
    assert locked, runs
    assert wheel, runs
    assert locked[0] < wheel[0], runs
    assert any(shlex.split(args)[:-1] == ["requirements.lock"] for args in build.all("COPY"))
    # Every pin carries a hash, so pip refuses anything but the locked files.
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    pins = [line for line in lock.splitlines() if "==" in line and not line.startswith(" ")]
    assert len(pins) > 20
    assert lock.count("--hash=sha256:") >= len(pins)


def test_the_final_stage_holds_the_virtualenv_and_the_examples(final: Stage) -> None:
    copies = [shlex.split(args) for args in final.all("COPY")]
    assert ["--from=build", "/opt/venv", "/opt/venv"] in copies
    # compose runs the sandbox with /app/examples/profiles.yaml and the relay with its rules.
    assert ["examples/", "/app/examples/"] in copies
    assert final.one("WORKDIR") == "/app"
    env = dict(
        assignment.split("=", 1) for args in final.all("ENV") for assignment in shlex.split(args)
    )
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_no_compiler_in_the_final_stage(final: Stage) -> None:
    for args in final.all("RUN"):
        words = set(re.split(r"[\s;&|]+", args))
        assert not words & set(BUILD_TOOLS), f"build tools installed in the final stage: {args}"


def test_runs_as_an_unprivileged_user(final: Stage) -> None:
    user, _, group = final.all("USER")[-1].partition(":")
    assert user not in {"", "root", "0"}
    assert group not in {"root", "0"}
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert user.isdigit()


def test_entrypoint_command_and_port(final: Stage) -> None:
    assert exec_form(final.one("ENTRYPOINT")) == ["io-relay"]
    assert exec_form(final.one("CMD")) == ["run", "--config", "/etc/io-relay/config.yaml"]
    assert final.one("EXPOSE") == str(ObservabilitySettings().port) == "9400"


def test_the_health_check_asks_healthz_on_the_exposed_port(final: Stage) -> None:
    options, _, command = final.one("HEALTHCHECK").partition("CMD ")
    assert "--interval=" in options
    probe = exec_form(command)
    assert probe[:2] == ["python", "-c"], "slim images have no curl"
    assert f"http://127.0.0.1:{final.one('EXPOSE')}/healthz" in probe[2]
    assert "urllib.request" in probe[2]


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = ignore_patterns()
    for path in (".venv/bin/python", ".cache/kafka/libs/kafka.jar", ".git/HEAD"):
        assert ignored(path, patterns), path
    assert ignored("consumer/__pycache__/cli.cpython-312.pyc", patterns)


def test_dockerignore_keeps_what_the_build_copies(stages: list[Stage]) -> None:
    patterns = ignore_patterns()
    sources = [
        word
        for stage in stages
        for args in stage.all("COPY")
        if not args.startswith("--from")
        for word in shlex.split(args)[:-1]
    ]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not ignored(source.rstrip("/"), patterns), f"{source} is left out of the context"


def test_dockerignore_has_no_exceptions() -> None:
    assert not [pattern for pattern in ignore_patterns() if pattern.startswith("!")]


def test_the_image_pins_the_versions_ci_tested() -> None:
    """CI installs requirements-dev.lock, the image requirements.lock: two resolutions, which
    must agree on every package they share (`make lock` writes both)."""

    def pins(name: str) -> dict[str, str]:
        text = (REPO / name).read_text(encoding="utf-8")
        found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", text, re.MULTILINE)
        return {package.lower(): version for package, version in found}

    image, ci = pins("requirements.lock"), pins("requirements-dev.lock")
    assert image.keys() <= ci.keys()
    assert {name: (v, ci[name]) for name, v in image.items() if ci[name] != v} == {}
