"""Known vulnerabilities in what io-relay installs, checked offline.

pip-audit asks OSV, or PyPI's per-version JSON, about each pin. Neither answers from the
machines that build io-relay, so this tool checks the same thing against a snapshot of the
PyPA advisory database (the data OSV serves for PyPI), kept in `tools/advisories.json`:

- every pin in the lock files must be outside every advisory's affected ranges;
- every version a dependency in pyproject.toml allows must be too (its floor, and any
  affected stretch inside its range), so that a user installing without the lock cannot
  resolve to a known-vulnerable release;
- every locked package must be in the snapshot, so a new dependency cannot skip the check.

    python tools/audit.py check --floors pyproject.toml requirements.lock requirements-dev.lock
    python tools/audit.py snapshot --database DIR --source URL --commit SHA requirements-dev.lock

`snapshot` cuts the file from a checkout of pypa/advisory-database (its `vulns/` folder),
keeping only the packages the locks name. Exit status: 0 clean, 1 findings, 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SNAPSHOT = Path(__file__).with_name("advisories.json")
# Past this, `check` says the snapshot wants refreshing (it still checks: offline, it is all
# there is).
STALE_AFTER_DAYS = 90
# A lock line that pins: `name==version`, optionally with extras and an environment marker.
_PIN = re.compile(
    r"^(?P<requirement>[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==[^\s\\]+(\s*;[^\\]+)?)"
)


class AuditInputError(Exception):
    """A lock, pyproject or snapshot that cannot be read; the audit cannot vouch for anything."""


@dataclass(frozen=True)
class Advisory:
    """One advisory, reduced to what decides whether a version is affected."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    # [introduced, fixed, last_affected] triples, as OSV's ECOSYSTEM range events pair up.
    ranges: tuple[tuple[str, str | None, str | None], ...]
    # Listed versions, kept only for advisories without an ECOSYSTEM range.
    versions: tuple[str, ...]

    def affects(self, version: Version) -> bool:
        if any(_same_version(version, listed) for listed in self.versions):
            return True
        return any(_in_range(version, *bounds) for bounds in self.ranges)

    def edges(self) -> Iterator[Version]:
        """The versions where an affected stretch begins or ends: what a range of allowed
        versions must contain if it overlaps one."""
        for introduced, _, last in self.ranges:
            for edge in (introduced, last):
                if edge is not None and edge != "0":
                    yield Version(edge)
        for listed in self.versions:
            try:
                yield Version(listed)
            except InvalidVersion:
                continue

    def fixed_in(self) -> list[str]:
        return sorted({fixed for _, fixed, _ in self.ranges if fixed}, key=Version)

    def describe(self) -> str:
        cves = [alias for alias in self.aliases if alias.startswith("CVE-")]
        fixed = ", ".join(self.fixed_in()) or "no fixed release"
        return f"{self.id} ({', '.join(cves) or 'no CVE'}), fixed in {fixed}: {self.summary}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Advisory:
        return cls(
            id=data["id"],
            aliases=tuple(data.get("aliases", ())),
            summary=data.get("summary", ""),
            ranges=tuple((r[0], r[1], r[2]) for r in data.get("ranges", ())),
            versions=tuple(data.get("versions", ())),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "aliases": list(self.aliases)}
        data |= {"summary": self.summary, "ranges": [list(r) for r in self.ranges]}
        if self.versions:
            data["versions"] = list(self.versions)
        return data


def _same_version(version: Version, listed: str) -> bool:
    try:
        return version == Version(listed)
    except InvalidVersion:
        return False


def _in_range(version: Version, introduced: str, fixed: str | None, last: str | None) -> bool:
    if introduced != "0" and version < Version(introduced):
        return False
    if fixed is not None:
        return version < Version(fixed)
    if last is not None:
        return version <= Version(last)
    return True


@dataclass(frozen=True)
class Pin:
    """A package at the one version a lock file (or a floor) allows."""

    name: str
    version: Version
    origin: str


@dataclass(frozen=True)
class Finding:
    pin: Pin
    advisory: Advisory

    def __str__(self) -> str:
        pin = self.pin
        return f"{pin.origin}: {pin.name} {pin.version} is affected by {self.advisory.describe()}"


@dataclass(frozen=True)
class Snapshot:
    source: dict[str, str]
    packages: dict[str, tuple[Advisory, ...]]

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            packages = {
                name: tuple(Advisory.from_json(entry) for entry in entries)
                for name, entries in data["packages"].items()
            }
            for advisory in (a for advisories in packages.values() for a in advisories):
                list(advisory.edges())  # every bound must read as a version
                for _, fixed, _ in advisory.ranges:
                    Version(fixed or "0")
            return cls(source=dict(data["source"]), packages=packages)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise AuditInputError(f"{path}: not a readable advisory snapshot ({exc})") from exc

    def findings(self, pins: Iterable[Pin]) -> Iterator[Finding | str]:
        """Each advisory that affects a pin, or a message naming a package the snapshot lacks."""
        for pin in pins:
            advisories = self.packages.get(pin.name)
            if advisories is None:
                yield (
                    f"{pin.origin}: {pin.name} is not in the advisory snapshot; "
                    "refresh it (`make advisories`)"
                )
                continue
            for advisory in advisories:
                if advisory.affects(pin.version):
                    yield Finding(pin, advisory)


def read_lock(path: Path) -> list[Pin]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuditInputError(f"{path}: {exc.strerror}") from exc
    pins = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line[0] in " \t#-":
            continue  # hashes, comments, options
        match = _PIN.match(line)
        if match is None:
            # `name @ url`, or a range: nothing the audit can hold against advisories.
            raise AuditInputError(f"{path}:{number}: not a `name==version` pin: {line.strip()}")
        try:
            requirement = Requirement(match["requirement"])
            (specifier,) = requirement.specifier
            version = Version(specifier.version)
        except (InvalidRequirement, InvalidVersion, ValueError) as exc:
            raise AuditInputError(f"{path}:{number}: not a pin ({exc})") from exc
        pins.append(Pin(canonicalize_name(requirement.name), version, f"{path.name}:{number}"))
    if not pins:
        raise AuditInputError(f"{path}: no `name==version` pins")
    return pins


@dataclass(frozen=True)
class Allowed:
    """What pyproject.toml lets an installer without the lock pick for one dependency."""

    name: str
    specifier: SpecifierSet
    origin: str

    def candidates(self, advisories: Iterable[Advisory]) -> list[Version]:
        """The floor, and each edge of an affected stretch the specifier allows: if the
        allowed versions overlap a stretch, one of these lies in it."""
        lowest = [
            Version(spec.version)
            for spec in self.specifier
            if spec.operator in (">=", "==", "~=", "===")
        ]
        # No lower bound means the oldest release is allowed: version 0 stands for it.
        points = {max(lowest, default=Version("0"))}
        points.update(edge for advisory in advisories for edge in advisory.edges())
        return sorted(v for v in points if self.specifier.contains(v, prereleases=True))


def read_floors(path: Path) -> list[Allowed]:
    """What each dependency in pyproject.toml allows (runtime and extras)."""
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        lines = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            lines.extend(extra)
        requirements = [Requirement(line) for line in lines]
    except (OSError, tomllib.TOMLDecodeError, KeyError, InvalidRequirement) as exc:
        raise AuditInputError(f"{path}: not a readable pyproject ({exc})") from exc
    return [
        Allowed(canonicalize_name(r.name), r.specifier, f"{path.name}: {r.name}{r.specifier}")
        for r in requirements
    ]


def _floor_findings(snapshot: Snapshot, allowed: list[Allowed]) -> Iterator[Finding | str]:
    """The first version each dependency allows inside each advisory's affected stretch."""
    for dependency in allowed:
        # A package the locks do not hold (a platform-only extra) has nothing to check.
        for advisory in snapshot.packages.get(dependency.name, ()):
            for version in dependency.candidates([advisory]):
                if advisory.affects(version):
                    yield Finding(Pin(dependency.name, version, dependency.origin), advisory)
                    break


def check(lock_paths: Sequence[Path], floors_path: Path | None, snapshot_path: Path) -> int:
    snapshot = Snapshot.load(snapshot_path)
    pins = [pin for path in lock_paths for pin in read_lock(path)]
    problems = list(snapshot.findings(pins))
    if floors_path is not None:
        problems.extend(_floor_findings(snapshot, read_floors(floors_path)))
    source = snapshot.source
    print(
        f"audit: {len(pins)} pins against {sum(map(len, snapshot.packages.values()))} advisories "
        f"({source.get('repository')} at {source.get('commit', '?')[:12]}, {source.get('date')})"
    )
    age = _age_days(source.get("date", ""))
    if age is not None and age > STALE_AFTER_DAYS:
        print(f"audit: the snapshot is {age} days old and wants refreshing (`make advisories`)")
    for problem in problems:
        print(f"  {problem}")
    print(f"audit: {len(problems)} finding(s)")
    return 1 if problems else 0


def _age_days(day: str) -> int | None:
    try:
        return (dt.date.today() - dt.date.fromisoformat(day[:10])).days
    except ValueError:
        return None


def _advisory_from_osv(entry: dict[str, Any], package: str) -> Advisory | None:
    if entry.get("withdrawn"):
        return None
    ranges: list[tuple[str, str | None, str | None]] = []
    versions: list[str] = []
    for affected in entry.get("affected", []):
        if canonicalize_name(affected.get("package", {}).get("name", "")) != package:
            continue
        ecosystem = [r for r in affected.get("ranges", []) if r.get("type") == "ECOSYSTEM"]
        for range_ in ecosystem:
            ranges.extend(_pair_events(range_.get("events", [])))
        if not ecosystem:
            versions.extend(str(v) for v in affected.get("versions", []))
    if not ranges and not versions:
        return None
    return Advisory(
        id=str(entry["id"]),
        aliases=tuple(str(a) for a in entry.get("aliases", [])),
        summary=str(entry.get("summary") or entry.get("details", "")).split("\n")[0][:200],
        ranges=tuple(ranges),
        versions=tuple(versions),
    )


def _pair_events(events: list[dict[str, Any]]) -> Iterator[tuple[str, str | None, str | None]]:
    introduced: str | None = None
    for event in events:
        if "introduced" in event:
            if introduced is not None:
                yield (introduced, None, None)
            introduced = str(event["introduced"])
        elif introduced is not None and ("fixed" in event or "last_affected" in event):
            yield (
                introduced,
                _str_or_none(event.get("fixed")),
                _str_or_none(event.get("last_affected")),
            )
            introduced = None
    if introduced is not None:
        yield (introduced, None, None)


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def snapshot(database: Path, lock_paths: Sequence[Path], source: dict[str, str], out: Path) -> int:
    """Cut `out` from a checkout's `vulns/` folder: the locked packages' advisories only."""
    vulns = database / "vulns"
    if not vulns.is_dir():
        raise AuditInputError(f"{database}: no vulns/ folder (a pypa/advisory-database checkout?)")
    folders: dict[str, Path] = {canonicalize_name(f.name): f for f in vulns.iterdir()}
    names = sorted({pin.name for path in lock_paths for pin in read_lock(path)})
    packages: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        entries = []
        for file in sorted(folders[name].glob("*.yaml")) if name in folders else []:
            advisory = _advisory_from_osv(yaml.safe_load(file.read_text(encoding="utf-8")), name)
            if advisory is not None:
                entries.append(advisory.to_json())
        packages[name] = entries
    document = {"source": source, "packages": packages}
    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"snapshot: {len(names)} packages, {sum(map(len, packages.values()))} advisories -> {out}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check_cmd = commands.add_parser("check", help="pins and floors against the snapshot")
    check_cmd.add_argument("locks", nargs="+", type=Path)
    check_cmd.add_argument("--floors", type=Path, help="pyproject.toml whose floors to check")
    check_cmd.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    cut = commands.add_parser(
        "snapshot", help="cut the snapshot from an advisory-database checkout"
    )
    cut.add_argument("locks", nargs="+", type=Path)
    cut.add_argument("--database", type=Path, required=True)
    cut.add_argument("--source", required=True, help="where the checkout came from (recorded)")
    cut.add_argument("--commit", required=True, help="the checkout's commit (recorded)")
    cut.add_argument("--date", required=True, help="the commit's date (recorded)")
    cut.add_argument("--out", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return check(args.locks, args.floors, args.snapshot)
        source = {"repository": args.source, "commit": args.commit, "date": args.date}
        return snapshot(args.database, args.locks, source, args.out)
    except AuditInputError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
