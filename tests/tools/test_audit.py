"""tools/audit.py: pins and floors against an advisory snapshot, and the snapshot's cutting."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from tools import audit

REPO = Path(__file__).resolve().parents[2]
LOCKS = [REPO / "requirements.lock", REPO / "requirements-dev.lock"]

# Two advisories the way the PyPA database writes them: a fixed range, a last_affected one.
JINJA_ESCAPE = {
    "id": "PYSEC-2026-1471",
    "aliases": ["CVE-2025-27516", "GHSA-cpwx-vrp4-4pq7"],
    "summary": "sandbox breakout through attr filter selecting format method",
    "affected": [
        {
            "package": {"name": "Jinja2", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.6"}]}],
            "versions": ["3.1.4", "3.1.5"],
        }
    ],
}
WIDGET_BUG = {
    "id": "PYSEC-2026-9",
    "aliases": ["CVE-2026-0009"],
    "details": "A widget bug.\nMore lines.",
    "affected": [
        {
            "package": {"name": "Some_Widget", "ecosystem": "PyPI"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [
                        {"introduced": "1.0"},
                        {"fixed": "1.2"},
                        {"introduced": "2.0"},
                        {"last_affected": "2.3"},
                    ],
                }
            ],
        }
    ],
}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    for folder, name, entry in [
        ("jinja2", "PYSEC-2026-1471", JINJA_ESCAPE),
        ("some-widget", "PYSEC-2026-9", WIDGET_BUG),
        ("some-widget", "PYSEC-2026-10", {**WIDGET_BUG, "id": "PYSEC-2026-10", "withdrawn": "x"}),
    ]:
        (tmp_path / "db" / "vulns" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "db" / "vulns" / folder / f"{name}.yaml").write_text(yaml.safe_dump(entry))
    return tmp_path / "db"


def write_lock(path: Path, *pins: str) -> Path:
    lines = [f"{pin} \\\n    --hash=sha256:{'0' * 64}" for pin in pins]
    path.write_text("# a lock\n" + "\n".join(lines) + "\n")
    return path


@pytest.fixture
def snapshot(database: Path, tmp_path: Path) -> Path:
    lock = write_lock(tmp_path / "all.lock", "jinja2==3.1.6", "some-widget==1.0", "clean==1.0")
    out = tmp_path / "advisories.json"
    source = {"repository": "test", "commit": "0" * 40, "date": dt.date.today().isoformat()}
    assert audit.snapshot(database, [lock], source, out) == 0
    return out


def run_check(
    capsys: pytest.CaptureFixture[str], snapshot: Path, *pins: str, floors: Path | None = None
) -> tuple[int, list[str]]:
    lock = write_lock(snapshot.with_name("check.lock"), *pins)
    capsys.readouterr()
    status = audit.check([lock], floors, snapshot)
    lines = capsys.readouterr().out.splitlines()
    findings = [line.strip() for line in lines if not line.startswith("audit:")]
    return status, findings


def test_the_snapshot_keeps_the_locked_packages_and_drops_withdrawn_entries(
    snapshot: Path,
) -> None:
    document = json.loads(snapshot.read_text())
    assert sorted(document["packages"]) == ["clean", "jinja2", "some-widget"]
    assert document["packages"]["clean"] == []
    assert [a["id"] for a in document["packages"]["some-widget"]] == ["PYSEC-2026-9"]
    (widget,) = document["packages"]["some-widget"]
    assert widget["ranges"] == [["1.0", "1.2", None], ["2.0", None, "2.3"]]
    assert widget["summary"] == "A widget bug."
    # A range makes the version list redundant; it is dropped to keep the file small.
    assert "versions" not in document["packages"]["jinja2"][0]


@pytest.mark.parametrize(
    ("pin", "affected"),
    [
        ("jinja2==3.1.4", True),
        ("jinja2==3.1.5", True),
        ("jinja2==3.1.6", False),
        ("Jinja2==3.1.4", True),  # names compare normalized
        ("some-widget==0.9", False),
        ("some_widget==1.0", True),
        ("some.widget==1.1.9", True),
        ("some-widget==1.2", False),
        ("some-widget==2.3", True),  # last_affected is inclusive
        ("some-widget==2.3.1", False),
        ("some-widget==1.5 ; sys_platform == 'win32'", False),
    ],
)
def test_a_pin_is_flagged_exactly_when_an_advisory_covers_it(
    capsys: pytest.CaptureFixture[str], snapshot: Path, pin: str, affected: bool
) -> None:
    status, findings = run_check(capsys, snapshot, pin)
    assert status == (1 if affected else 0)
    assert len(findings) == (1 if affected else 0), findings


def test_a_finding_names_the_advisory_its_cve_and_the_fix(
    capsys: pytest.CaptureFixture[str], snapshot: Path
) -> None:
    status, findings = run_check(capsys, snapshot, "clean==1.0", "jinja2==3.1.4")
    assert status == 1
    assert findings == [
        "check.lock:4: jinja2 3.1.4 is affected by PYSEC-2026-1471 (CVE-2025-27516), "
        "fixed in 3.1.6: sandbox breakout through attr filter selecting format method"
    ]


def test_a_package_missing_from_the_snapshot_is_a_finding(
    capsys: pytest.CaptureFixture[str], snapshot: Path
) -> None:
    status, findings = run_check(capsys, snapshot, "brand-new==1.0")
    assert status == 1
    assert findings == [
        "check.lock:2: brand-new is not in the advisory snapshot; refresh it (`make advisories`)"
    ]


def test_floors_below_a_fix_are_flagged_and_missing_floors_count_as_the_oldest(
    capsys: pytest.CaptureFixture[str], snapshot: Path, tmp_path: Path
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["Jinja2", "clean"]\n'
        '[project.optional-dependencies]\ndev = ["some-widget>=1.1,<3", "not-locked>=1"]\n'
    )
    status, findings = run_check(capsys, snapshot, "clean==1.0", floors=pyproject)
    assert status == 1
    assert [line.split(" is affected by ")[0] for line in findings] == [
        "pyproject.toml: Jinja2: jinja2 0",
        "pyproject.toml: some-widget<3,>=1.1: some-widget 1.1",
    ]
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["Jinja2>=3.1.6", "clean"]\n')
    assert run_check(capsys, snapshot, "clean==1.0", floors=pyproject) == (0, [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# nothing pinned\n", "no `name==version` pins"),
        ("jinja2==not-a-version \\\n", "not a pin"),
    ],
)
def test_an_unreadable_lock_stops_with_exit_2(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    lock = tmp_path / "bad.lock"
    lock.write_text(text)
    assert audit.main(["check", str(lock), "--snapshot", str(snapshot)]) == 2
    assert message in capsys.readouterr().err


def test_the_committed_locks_and_floors_pass_the_committed_snapshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert audit.main(["check", "--floors", str(REPO / "pyproject.toml"), *map(str, LOCKS)]) == 0
    summary = capsys.readouterr().out.splitlines()
    assert summary[-1] == "audit: 0 finding(s)"
    pins = int(summary[0].split()[1])
    assert pins > 100


def test_the_committed_snapshot_flags_the_jinja2_the_old_floor_allowed() -> None:
    snapshot = audit.Snapshot.load(audit.SNAPSHOT)
    pin = audit.Pin("jinja2", Version("3.1.4"), "floor")
    cves = {
        alias
        for finding in snapshot.findings([pin])
        if isinstance(finding, audit.Finding)
        for alias in finding.advisory.aliases
    }
    assert {"CVE-2024-56326", "CVE-2025-27516"} <= cves


def test_an_affected_stretch_inside_the_allowed_range_is_flagged_too(
    capsys: pytest.CaptureFixture[str], snapshot: Path, tmp_path: Path
) -> None:
    """A floor above one stretch (1.0 to 1.2) still lets an installer pick 2.0 to 2.3."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["some-widget>=1.5,<3"]\n')
    status, findings = run_check(capsys, snapshot, "clean==1.0", floors=pyproject)
    assert status == 1
    assert [line.split(" is affected by ")[0] for line in findings] == [
        "pyproject.toml: some-widget<3,>=1.5: some-widget 2.0"
    ]
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["some-widget>=1.5,<2"]\n')
    assert run_check(capsys, snapshot, "clean==1.0", floors=pyproject) == (0, [])


def test_a_lock_line_that_is_not_a_pin_stops_the_audit(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = write_lock(tmp_path / "url.lock", "clean==1.0")
    lock.write_text(lock.read_text() + "widget @ https://example.org/widget-1.0.whl\n")
    assert audit.main(["check", str(lock), "--snapshot", str(snapshot)]) == 2
    assert "url.lock:4: not a `name==version` pin: widget @ https" in capsys.readouterr().err


def test_listed_versions_compare_as_versions() -> None:
    advisory = audit.Advisory("X", (), "", ranges=(), versions=("1.0", "2.0rc1"))
    assert advisory.affects(Version("1.0.0"))
    assert advisory.affects(Version("2.0-rc1"))
    assert not advisory.affects(Version("1.0.1"))


@pytest.mark.parametrize(("date", "warned"), [("2020-01-01", True), ("today", False)])
def test_an_old_snapshot_is_said_to_want_refreshing(
    capsys: pytest.CaptureFixture[str], snapshot: Path, date: str, warned: bool
) -> None:
    document = json.loads(snapshot.read_text())
    document["source"]["date"] = dt.date.today().isoformat() if date == "today" else date
    snapshot.write_text(json.dumps(document))
    lock = write_lock(snapshot.with_name("check.lock"), "clean==1.0")
    capsys.readouterr()
    assert audit.check([lock], None, snapshot) == 0  # a warning, not a finding
    assert ("wants refreshing" in capsys.readouterr().out) is warned
