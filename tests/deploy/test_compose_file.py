"""deploy/compose: a valid compose file whose services agree with each other and with io-relay.

No Docker engine is needed: the file is validated against the Compose Specification's JSON
Schema (tests/deploy/schemas/compose-spec.json, see SOURCE.md), what it mounts must exist,
io-relay's configuration must load and point at the compose services, and Prometheus'
configuration is checked by promtool in the layout the container sees.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from consumer.config import RuntimeSettings, Settings, load_settings
from consumer.content.serve import SHUTDOWN_GRACE_S
from consumer.runtime.app import load_contracts
from consumer.sandbox.settings import DOCUMENT_BEARER_DEFAULT

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
CONFIG_PATH = "/etc/io-relay/config.yaml"
# The Dockerfile copies examples/ to /app/examples/.
IMAGE_EXAMPLES = PurePosixPath("/app/examples")

Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    found: dict[str, Service] = compose["services"]
    return found


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [name for name in os.environ if name.startswith("IO_RELAY_")]:
        monkeypatch.delenv(name)
    return load_settings(COMPOSE_DIR / "io-relay.yaml")


def bind_mounts(service: Service) -> dict[str, Path]:
    """Container path → host path of the service's bind mounts (short syntax)."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        assert isinstance(volume, str), "this file uses the short volume syntax"
        source, target, *_ = volume.split(":")
        assert source.startswith("."), f"{volume}: a bind mount from the repository"
        mounts[target] = (COMPOSE_DIR / source).resolve()
    return mounts


def from_image(path: Path) -> Path:
    """A path inside the io-relay image that comes from the repository's examples/."""
    relative = PurePosixPath(path).relative_to(IMAGE_EXAMPLES)
    return REPO / "examples" / relative


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda error: list(error.path))
    assert not errors, [f"{list(error.path)}: {error.message}" for error in errors]


def test_the_schema_rejects_what_compose_rejects(compose: dict[str, Any]) -> None:
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    misspelled = {**compose, "services": {"kafka": {"image": "x", "healthckeck": {}}}}
    assert not validator.is_valid(misspelled)


def test_the_services(services: dict[str, Service]) -> None:
    assert set(services) == {
        "kafka",
        "kafka-init",
        "sandbox",
        "io-relay",
        "content",
        "events",
        "prometheus",
        "grafana",
    }


def test_images_are_pinned_or_built_here(services: dict[str, Service]) -> None:
    for name, service in services.items():
        if "build" in service:
            assert service["build"]["context"] == "../.."
            assert (COMPOSE_DIR / service["build"]["context"] / "Dockerfile").is_file()
            continue
        image = service["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:v?[0-9][\w.-]*", image), (
            f"{name}: {image} is not pinned to a version"
        )


def test_everything_mounted_exists(services: dict[str, Service]) -> None:
    mounted = {
        f"{name}:{target}": source
        for name, service in services.items()
        for target, source in bind_mounts(service).items()
    }
    assert mounted
    missing = [f"{where} ← {source}" for where, source in mounted.items() if not source.exists()]
    assert not missing


def test_the_relay_runs_the_compose_config(services: dict[str, Service]) -> None:
    relay = services["io-relay"]
    assert relay["command"] == ["run", "--config", CONFIG_PATH]
    assert bind_mounts(relay)[CONFIG_PATH] == COMPOSE_DIR / "io-relay.yaml"
    # Longer than io-relay's drain on SIGTERM, or compose kills it halfway.
    grace_s = int(relay["stop_grace_period"].removesuffix("s"))
    assert grace_s > RuntimeSettings().shutdown_timeout_s
    assert relay["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert relay["depends_on"]["sandbox"]["condition"] == "service_healthy"


def test_the_config_points_at_the_compose_services(
    services: dict[str, Service], settings: Settings
) -> None:
    kafka_env = services["kafka"]["environment"]
    assert f"PLAINTEXT://{settings.kafka.bootstrap_servers}" in kafka_env[
        "KAFKA_ADVERTISED_LISTENERS"
    ].split(",")
    io = urlsplit(settings.io.base_url)
    assert io.hostname in services
    sandbox = services[str(io.hostname)]["command"]
    assert sandbox[0] == "sandbox"
    assert option(sandbox, "--port") == str(io.port)
    assert option(sandbox, "--host") == "0.0.0.0"
    assert settings.observability.host == "0.0.0.0"
    assert (
        f"127.0.0.1:{settings.observability.port}:{settings.observability.port}"
        in services["io-relay"]["ports"]
    )


def test_the_config_and_the_images_rules_load(
    services: dict[str, Service], settings: Settings
) -> None:
    assert [PurePosixPath(path) for path in settings.rules.paths] == [IMAGE_EXAMPLES / "rules"]
    paths = [from_image(path) for path in settings.rules.paths]
    local = settings.model_copy(
        update={"rules": settings.rules.model_copy(update={"paths": paths})}
    )
    _, rules = load_contracts(local)
    assert {rule.service for rule in rules} <= settings.io.services.keys()
    profiles = option(services["sandbox"]["command"], "--profiles")
    assert from_image(Path(profiles)).is_file()


def test_kafka_init_creates_the_configs_topics(
    services: dict[str, Service], settings: Settings
) -> None:
    script = services["kafka-init"]["command"][0]
    created = re.search(r"for topic in ([^;]+);", script)
    assert created, script
    kafka = settings.kafka
    assert set(created[1].split()) == {*kafka.input_topics, kafka.status_topic, kafka.dlq_topic}
    # The tracking and content topics on their own: compacted, one record per message under
    # tracking, per remote content.
    commands = script.replace("\\\n", " ").splitlines()
    compacted = [line for line in commands if "--config cleanup.policy=compact" in line]
    assert [option(line.split(), "--topic") for line in compacted] == [
        kafka.tracking_topic,
        kafka.content_topic,
    ]
    assert "--if-not-exists" in script
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_the_events_service_produces_into_the_input_topic(
    services: dict[str, Service], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    python, flag, code, *argv = services["events"]["entrypoint"]
    assert (python, flag) == ("python", "-c")
    assert "demo.produce_events(*sys.argv[1:])" in code
    assert argv == [settings.kafka.bootstrap_servers, settings.kafka.input_topics[0]]
    # As the entrypoint does, so that demo.py finds its sibling modules (demo_premium).
    assert f"sys.path.insert(0, '{IMAGE_EXAMPLES}')" in code
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    spec = importlib.util.spec_from_file_location("demo", REPO / "examples" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert list(inspect.signature(demo.produce_events).parameters) == ["bootstrap", "topic"]


def test_prometheus_scrapes_the_relay_and_the_content_server(
    services: dict[str, Service], settings: Settings
) -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["global"]["scrape_interval"] == "5s"
    jobs = {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}
    # The alerting rules select job="io-relay" and job="io-relay-content".
    port = settings.observability.port
    assert jobs == {
        "io-relay": [{"targets": [f"io-relay:{port}"]}],
        "io-relay-content": [{"targets": [f"content:{port}"]}],
    }
    mounts = bind_mounts(services["prometheus"])
    assert mounts["/etc/prometheus/prometheus.yml"] == COMPOSE_DIR / "prometheus.yml"
    for rule_file in config["rule_files"]:
        assert f"/etc/prometheus/{rule_file}" in mounts


def test_promtool_accepts_the_prometheus_config(
    services: dict[str, Service], tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    mounts = bind_mounts(services["prometheus"])
    alerts = REPO / "deploy" / "prometheus" / "alerts.yaml"
    assert mounts["/etc/prometheus/alerts.yaml"] == alerts
    if not alerts.exists():
        pytest.skip("deploy/prometheus/alerts.yaml is not written yet")
    # The container's /etc/prometheus, rebuilt from the mounts: relative rule_files resolve.
    for target, source in mounts.items():
        relative = PurePosixPath(target).relative_to("/etc/prometheus")
        shutil.copyfile(source, tmp_path / relative)
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_grafana_finds_the_datasource_and_the_dashboard(services: dict[str, Service]) -> None:
    grafana = services["grafana"]
    mounts = bind_mounts(grafana)
    provisioning = {
        PurePosixPath(target).name: source
        for target, source in mounts.items()
        if target.startswith("/etc/grafana/provisioning/")
    }
    (datasources,) = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(provisioning["datasources"].glob("*.yaml"))
    ]
    (datasource,) = datasources["datasources"]
    assert datasource["uid"] == "prometheus"
    assert datasource["type"] == "prometheus"
    assert urlsplit(datasource["url"]).hostname == "prometheus"
    assert "prometheus" in services

    (providers,) = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(provisioning["dashboards"].glob("*.yaml"))
    ]
    (provider,) = providers["providers"]
    dashboards = [target for target in mounts if target.endswith(".json")]
    assert dashboards == [f"{provider['options']['path']}/io-relay.json"]
    assert mounts[dashboards[0]] == REPO / "deploy" / "grafana" / "io-relay.json"
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboards[0]


def test_the_dashboard_picks_the_provisioned_datasource() -> None:
    dashboard = json.loads((REPO / "deploy" / "grafana" / "io-relay.json").read_text("utf-8"))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_the_content_service_mirrors_the_relay(
    services: dict[str, Service], settings: Settings
) -> None:
    content, relay = services["content"], services["io-relay"]
    assert content["command"] == ["content", "--config", CONFIG_PATH]
    assert content["build"] == relay["build"]
    assert content["image"] == relay["image"]
    assert bind_mounts(content) == bind_mounts(relay), "the relay's configuration"
    assert content["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    for key in ("read_only", "tmpfs", "restart"):
        assert content[key] == relay[key], key
    grace_s = int(content["stop_grace_period"].removesuffix("s"))
    assert grace_s > SHUTDOWN_GRACE_S
    # IO's API on the host's 9500; its /metrics on another host port than the relay's.
    assert settings.content.host == "0.0.0.0"
    assert f"127.0.0.1:{settings.content.port}:{settings.content.port}" in content["ports"]
    (metrics,) = [
        port for port in content["ports"] if port.endswith(f":{settings.observability.port}")
    ]
    assert metrics not in relay["ports"]


def test_the_sandbox_reaches_the_content_server_and_its_documents(
    services: dict[str, Service], settings: Settings
) -> None:
    """The sandbox plays IO's backend: it opens Premium messages at content.public_url."""
    content = settings.content
    assert content.public_url is not None
    public = urlsplit(content.public_url)
    assert (public.hostname, public.port) == ("content", content.port)
    assert content.key_ring(), "the compose sealing key decodes"
    sandbox = services["sandbox"]["command"]
    for name, source in content.document_sources.items():
        assert urlsplit(source.base_url).hostname == urlsplit(settings.io.base_url).hostname, name
        token = option(sandbox, "--document-token") if "--document-token" in sandbox else None
        assert source.auth is not None
        assert source.auth.secret().get_secret_value() == (token or DOCUMENT_BEARER_DEFAULT)
