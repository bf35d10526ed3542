"""deploy/k8s: valid Kubernetes objects that agree with io-relay and with each other.

The objects are those `kubectl apply -k deploy/k8s` creates: the resources of
kustomization.yaml plus the ConfigMaps of its configMapGenerator (built here as kustomize
builds them, without the hash suffix; test_kustomize_builds_the_same_objects compares with the
real kustomize when kubectl is installed).

Core kinds are validated by kubernetes-validate's strict schemas (unknown fields fail). KEDA's
and prometheus-operator's kinds are validated by the openAPIV3Schema of their published CRDs
(tests/deploy/schemas/, see SOURCE.md), where unknown fields are made to fail as well: the API
server's strict field validation (kubectl's default) rejects them, a plain schema would not.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import pytest
import yaml
from pydantic import SecretStr

from consumer.config import RuntimeSettings, Settings, load_settings
from consumer.content.serve import SHUTDOWN_GRACE_S
from consumer.errors import ConfigurationError
from consumer.runtime.app import io_services, load_contracts

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
NAME = "io-relay"
POD_LABELS = {"app.kubernetes.io/name": NAME}
# io-relay content: its own name, so that no selector of the relay's picks its pods.
CONTENT = "io-relay-content"
CONTENT_POD_LABELS = {"app.kubernetes.io/name": CONTENT, "app.kubernetes.io/part-of": NAME}
# io-relay history, the same way.
HISTORY = "io-relay-history"
HISTORY_POD_LABELS = {"app.kubernetes.io/name": HISTORY, "app.kubernetes.io/part-of": NAME}
CONFIG_PATH = "/etc/io-relay/config.yaml"
# The oldest Kubernetes still supported by the big managed offerings, and the newest
# kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.31", "latest")
CRD_FILES = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentications.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
}
# Kubernetes' own rule for environment variable names (validation.IsEnvVarName).
ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
# A resource quantity (the pattern of Kubernetes' own OpenAPI) and its suffixes' factors.
QUANTITY = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|)$")
QUANTITY_FACTORS = {"": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
QUANTITY_FACTORS |= {suffix: 1000.0 ** (i + 1) for i, suffix in enumerate("kMGTPE")}
QUANTITY_FACTORS |= {suffix + "i": 1024.0 ** (i + 1) for i, suffix in enumerate("KMGTPE")}
# kafka.client's sasl.mechanism as KEDA's kafka scaler spells it.
KEDA_SASL_MODES = {
    "PLAIN": "plaintext",
    "SCRAM-SHA-256": "scram_sha256",
    "SCRAM-SHA-512": "scram_sha512",
}

Object = dict[str, Any]


class _Validate(Protocol):
    def __call__(self, data: Object, desired_version: str, strict: bool = ...) -> str: ...


class _LatestVersion(Protocol):
    def __call__(self) -> str: ...


# kubernetes-validate ships no type information; these are the two functions used here.
_kubernetes_validate = importlib.import_module("kubernetes_validate")
validate_core: _Validate = _kubernetes_validate.validate
latest_kubernetes: _LatestVersion = _kubernetes_validate.latest_version


def read_yaml_documents(path: Path) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def build_objects() -> list[Object]:
    """kustomization.yaml's resources and generated ConfigMaps (names without the hash)."""
    kustomization = read_yaml_documents(K8S / "kustomization.yaml")[0]
    objects = [
        doc
        for resource in kustomization["resources"]
        for doc in read_yaml_documents(K8S / resource)
    ]
    labels = kustomization.get("generatorOptions", {}).get("labels", {})
    for generator in kustomization["configMapGenerator"]:
        data = {}
        for entry in generator["files"]:
            key, _, source = str(entry).rpartition("=")
            data[key or Path(source).name] = (K8S / source).read_text(encoding="utf-8")
        metadata = {"name": generator["name"], "labels": dict(labels)}
        objects.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        )
    return objects


def forbid_unknown_fields(schema: Object) -> Object:
    """The schema with additionalProperties: false wherever it lists properties and says
    nothing about others, as the API server's strict field validation treats it."""
    tightened = dict(schema)
    if "properties" in schema:
        tightened["properties"] = {
            name: forbid_unknown_fields(field) for name, field in schema["properties"].items()
        }
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            tightened["additionalProperties"] = False
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            tightened[keyword] = forbid_unknown_fields(schema[keyword])
    for keyword in ("anyOf", "allOf", "oneOf"):
        if keyword in schema:
            tightened[keyword] = [forbid_unknown_fields(option) for option in schema[keyword]]
    return tightened


def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    crd = read_yaml_documents(SCHEMAS / CRD_FILES[(api_version, kind)])[0]
    assert crd["spec"]["names"]["kind"] == kind
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group
    (served,) = [entry for entry in crd["spec"]["versions"] if entry["name"] == version]
    schema = forbid_unknown_fields(served["schema"]["openAPIV3Schema"])
    return jsonschema.Draft202012Validator(schema)


def is_custom(obj: Object) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_FILES


def the(objects: list[Object], kind: str, name: str = NAME) -> Object:
    (found,) = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    return found


def secret_data(objects: list[Object], name: str) -> dict[str, str]:
    data: dict[str, str] = the(objects, "Secret", name)["stringData"]
    return data


def container_environment(objects: list[Object], container: Object) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(secret_data(objects, source["secretRef"]["name"]))
    for variable in container.get("env", []):
        ref = variable["valueFrom"]["secretKeyRef"]
        env[variable["name"]] = secret_data(objects, ref["name"])[ref["key"]]
    return env


def in_container(settings: Settings, mounted: Path) -> Settings:
    """The settings with the absolute paths of the container resolved under `mounted`."""
    paths = [mounted / path.relative_to("/") for path in settings.rules.paths]
    return settings.model_copy(update={"rules": settings.rules.model_copy(update={"paths": paths})})


def quantity(text: str) -> float:
    match = QUANTITY.match(text)
    assert match, f"not a Kubernetes quantity: {text}"
    return float(match[1]) * QUANTITY_FACTORS[match[2]]


def probe(container: Object, kind: str) -> tuple[str, str]:
    http_get = container[kind]["httpGet"]
    return http_get["path"], http_get["port"]


# Fixtures: the objects, and io-relay's settings as the container would load them


@pytest.fixture(scope="module")
def objects() -> list[Object]:
    return build_objects()


@pytest.fixture(scope="module")
def deployment(objects: list[Object]) -> Object:
    return the(objects, "Deployment")


@pytest.fixture(scope="module")
def pod(deployment: Object) -> Object:
    spec: Object = deployment["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def container(pod: Object) -> Object:
    containers: list[Object] = pod["containers"]
    (only,) = containers
    return only


def use_environment(
    monkeypatch: pytest.MonkeyPatch, objects: list[Object], container: Object
) -> None:
    """The environment the container gets from its Secrets, and no other IO_RELAY_ variable."""
    for name in [name for name in os.environ if name.startswith("IO_RELAY_")]:
        monkeypatch.delenv(name)
    for name, value in container_environment(objects, container).items():
        monkeypatch.setenv(name, value)


def rebuild_mounts(root: Path, objects: list[Object], pod: Object, container: Object) -> Path:
    """The container's ConfigMap mounts, rebuilt under `root`."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue
        data: dict[str, str] = the(objects, "ConfigMap", source["name"])["data"]
        target = root / mount["mountPath"].lstrip("/")
        if "subPath" in mount:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[mount["subPath"]], encoding="utf-8")
        else:
            target.mkdir(parents=True)
            for file_name, content in data.items():
                (target / file_name).write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def cluster_env(objects: list[Object], container: Object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the container gets from its Secrets, and no other IO_RELAY_ variable."""
    use_environment(monkeypatch, objects, container)


@pytest.fixture
def mounted(tmp_path: Path, objects: list[Object], pod: Object, container: Object) -> Path:
    """The container's /etc/io-relay, rebuilt under tmp_path from the ConfigMaps it mounts."""
    return rebuild_mounts(tmp_path, objects, pod, container)


@pytest.fixture
def settings(mounted: Path, cluster_env: None) -> Settings:
    return load_settings(mounted / CONFIG_PATH.lstrip("/"))


# Schemas


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_are_valid_kubernetes(objects: list[Object], version: str) -> None:
    target = latest_kubernetes() if version == "latest" else version
    core = [obj for obj in objects if not is_custom(obj)]
    assert sorted(obj["kind"] for obj in core) == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Deployment",
        "PodDisruptionBudget",
        "PodDisruptionBudget",
        "Secret",
        "Secret",
        "Secret",
        "Secret",
        "Secret",
        "Service",
        "Service",
    ]
    for obj in core:
        try:
            validate_core(obj, target, strict=True)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(part) for part in exc.absolute_path)
            pytest.fail(
                f"{obj['kind']}/{obj['metadata']['name']} ({target}): {where}: {exc.message}"
            )


def test_custom_resources_match_their_crds(objects: list[Object]) -> None:
    custom = [obj for obj in objects if is_custom(obj)]
    assert sorted(obj["kind"] for obj in custom) == [
        "ScaledObject",
        "ServiceMonitor",
        "ServiceMonitor",
        "TriggerAuthentication",
    ]
    for obj in custom:
        errors = list(crd_validator(obj["apiVersion"], obj["kind"]).iter_errors(obj))
        assert not errors, [f"{obj['kind']}: {list(e.absolute_path)}: {e.message}" for e in errors]


def test_crd_validation_rejects_unknown_and_mistyped_fields(objects: list[Object]) -> None:
    scaled = the(objects, "ScaledObject")
    validator = crd_validator(scaled["apiVersion"], scaled["kind"])
    misspelled = {**scaled, "spec": {**scaled["spec"], "maxReplicas": 6}}
    mistyped = {**scaled, "spec": {**scaled["spec"], "minReplicaCount": "1"}}
    assert not validator.is_valid(misspelled)
    assert not validator.is_valid(mistyped)


def test_every_object_is_io_relays(objects: list[Object]) -> None:
    for obj in objects:
        assert re.fullmatch(rf"{NAME}(-[a-z]+)?", obj["metadata"]["name"])
        assert "namespace" not in obj["metadata"], "the namespace comes from kubectl or an overlay"
        labels = obj["metadata"]["labels"]
        if labels["app.kubernetes.io/name"] in {CONTENT, HISTORY}:
            assert labels["app.kubernetes.io/part-of"] == NAME
        else:
            assert labels["app.kubernetes.io/name"] == NAME


# What the manifests must agree on with io-relay


def test_probes_ask_health_and_readiness_on_the_metrics_port(
    container: Object, settings: Settings
) -> None:
    (port,) = container["ports"]
    assert port == {
        "name": "metrics",
        "containerPort": settings.observability.port,
        "protocol": "TCP",
    }
    assert settings.observability.port == 9400
    assert settings.observability.host == "0.0.0.0"
    assert probe(container, "livenessProbe") == ("/healthz", "metrics")
    assert probe(container, "startupProbe") == ("/healthz", "metrics")
    assert probe(container, "readinessProbe") == ("/readyz", "metrics")


def test_prometheus_scrapes_the_metrics_port(objects: list[Object]) -> None:
    service = the(objects, "Service")
    assert service["spec"]["selector"] == POD_LABELS
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9400, "targetPort": "metrics", "protocol": "TCP"}
    ]
    monitor = the(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "15s"
    # The job label is the Service's name unless jobLabel says otherwise: the alerting rules
    # select job="io-relay".
    assert "jobLabel" not in monitor["spec"]
    assert service["metadata"]["name"] == NAME


def test_the_grace_period_outlasts_the_shutdown(pod: Object, settings: Settings) -> None:
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > RuntimeSettings().shutdown_timeout_s
    assert grace > settings.runtime.shutdown_timeout_s


def test_runs_as_the_images_unprivileged_user(pod: Object, container: Object) -> None:
    image_user = re.findall(r"^USER\s+(\d+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    uid = int(image_user[-1])
    assert uid != 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    hardened = container["securityContext"]
    assert hardened["runAsNonRoot"] is True
    assert hardened["runAsUser"] == uid
    assert hardened["allowPrivilegeEscalation"] is False
    assert hardened["readOnlyRootFilesystem"] is True
    assert hardened["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False


def test_resources_are_quantities_and_memory_is_capped(container: Object) -> None:
    resources = container["resources"]
    requests = {name: quantity(value) for name, value in resources["requests"].items()}
    limits = {name: quantity(value) for name, value in resources["limits"].items()}
    assert set(requests) == {"cpu", "memory"}
    # No CPU limit: CFS throttling would stall the poll loop and the drain on shutdown.
    assert set(limits) == {"memory"}
    assert limits["memory"] >= requests["memory"] >= 100 * 1024**2, "peak RSS is about 80 MB"


def test_the_container_runs_the_mounted_config(container: Object) -> None:
    assert container["args"] == ["run", "--config", CONFIG_PATH]
    assert "command" not in container, "the image's entrypoint is io-relay"
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert mounts[CONFIG_PATH]["subPath"] == "config.yaml"


def test_the_configmap_config_and_rules_load(settings: Settings, mounted: Path) -> None:
    assert settings.rules.paths == [Path("/etc/io-relay/rules")]
    _, rules = load_contracts(in_container(settings, mounted))
    assert rules
    assert {rule.service for rule in rules} <= settings.io.services.keys()


def test_the_config_names_each_topic_once(settings: Settings, mounted: Path) -> None:
    """The status, DLQ and tracking topics are spelt out (no default) and never shared."""
    kafka = settings.kafka
    written = yaml.safe_load((mounted / CONFIG_PATH.lstrip("/")).read_text(encoding="utf-8"))
    assert {"status_topic", "dlq_topic", "tracking_topic", "content_topic"} <= written[
        "kafka"
    ].keys()
    topics = [
        *kafka.input_topics,
        kafka.status_topic,
        kafka.dlq_topic,
        kafka.tracking_topic,
        kafka.content_topic,
    ]
    assert len(set(topics)) == len(topics)


def test_the_rules_configmap_is_examples_rules(objects: list[Object]) -> None:
    examples = {
        path.name: path.read_text(encoding="utf-8")
        for path in (REPO / "examples" / "rules").glob("*.y*ml")
    }
    assert examples
    assert the(objects, "ConfigMap", "io-relay-rules")["data"] == examples


def test_the_keys_secret_holds_exactly_the_configs_key_env_names(
    objects: list[Object], settings: Settings
) -> None:
    services = settings.io.services.values()
    assert all(service.key is None and service.key_file is None for service in services), (
        "no subscription key in the ConfigMap"
    )
    assert set(secret_data(objects, "io-relay-keys")) == {service.key_env for service in services}
    keys = io_services(settings.io)
    assert {name: service.key for name, service in keys.items()} == {
        name: SecretStr("replace-me") for name in settings.io.services
    }


def test_kafka_credentials_reach_kafka_client(objects: list[Object], settings: Settings) -> None:
    kafka = secret_data(objects, "io-relay-kafka")
    assert settings.kafka.librdkafka()["sasl.username"] == kafka["username"]
    assert settings.kafka.librdkafka()["sasl.password"] == kafka["password"]
    # The file's own kafka.client entries survive the merge with the environment's.
    assert settings.kafka.client["security.protocol"] == "SASL_SSL"


def test_keda_reads_lag_with_the_same_kafka_settings(
    objects: list[Object], settings: Settings
) -> None:
    kafka = secret_data(objects, "io-relay-kafka")
    assert kafka["sasl"] == KEDA_SASL_MODES[str(settings.kafka.client["sasl.mechanism"])]
    uses_tls = settings.kafka.client["security.protocol"] in {"SSL", "SASL_SSL"}
    assert kafka["tls"] == ("enable" if uses_tls else "disable")
    auth = the(objects, "TriggerAuthentication", "io-relay-kafka")
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert refs == {key: ("io-relay-kafka", key) for key in ("sasl", "username", "password", "tls")}


def test_the_scaled_object_scales_the_consumer_group(
    objects: list[Object], deployment: Object, settings: Settings
) -> None:
    scaled = the(objects, "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (
        1
        <= scaled["minReplicaCount"]
        <= deployment["spec"]["replicas"]
        <= scaled["maxReplicaCount"]
    )
    triggers = scaled["triggers"]
    assert {trigger["metadata"]["topic"] for trigger in triggers} == set(
        settings.kafka.input_topics
    )
    assert len(triggers) == len(settings.kafka.input_topics)
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert metadata["consumerGroup"] == settings.kafka.group_id == "io-relay"
        assert metadata["bootstrapServers"] == settings.kafka.bootstrap_servers
        # Never more replicas than partitions: an extra one owns nothing and is never ready.
        assert metadata["allowIdleConsumers"] == "false"
        assert int(metadata["lagThreshold"]) > 0
        # KEDA's client defaults to protocol 1.0.0, which Kafka 4 brokers refuse (KIP-896).
        assert tuple(int(part) for part in metadata["version"].split(".")) >= (2, 1, 0)
        assert trigger["authenticationRef"] == {"name": "io-relay-kafka"}


def test_rollouts_and_disruptions_take_one_replica_at_a_time(
    objects: list[Object], deployment: Object
) -> None:
    assert deployment["spec"]["selector"]["matchLabels"] == POD_LABELS
    assert deployment["spec"]["template"]["metadata"]["labels"] == POD_LABELS
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    budget = the(objects, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"] == POD_LABELS


def test_every_reference_resolves(objects: list[Object], pod: Object, container: Object) -> None:
    config_maps = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "ConfigMap"}
    for volume in pod["volumes"]:
        if "configMap" in volume:
            assert volume["configMap"]["name"] in config_maps
    mounts = {mount["name"] for mount in container["volumeMounts"]}
    assert mounts == {volume["name"] for volume in pod["volumes"]}
    for variable in container["env"]:
        assert ENV_VAR_NAME.match(variable["name"]), variable["name"]
        ref = variable["valueFrom"]["secretKeyRef"]
        assert ref["key"] in secret_data(objects, ref["name"])
    for name in container_environment(objects, container):
        assert ENV_VAR_NAME.match(name), name


def rendered_by_kustomize() -> list[Object]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: kustomize's own build is not compared")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_kustomize_builds_the_same_objects(objects: list[Object]) -> None:
    rendered = rendered_by_kustomize()
    generated: dict[str, str] = {}
    for obj in rendered:
        if obj["kind"] == "ConfigMap":
            hashed = obj["metadata"]["name"]
            base, _, suffix = hashed.rpartition("-")
            assert re.fullmatch(r"[a-z0-9]{10}", suffix), hashed
            generated[hashed] = base
            obj["metadata"]["name"] = base
    mounted: set[str] = set()
    for deployment in [obj for obj in rendered if obj["kind"] == "Deployment"]:
        for volume in deployment["spec"]["template"]["spec"]["volumes"]:
            if "configMap" in volume:
                # kustomize points the Deployments at the names it generated, hash included.
                hashed = volume["configMap"]["name"]
                mounted.add(hashed)
                volume["configMap"]["name"] = generated[hashed]
    assert mounted == set(generated), "generated ConfigMaps nothing mounts"

    def key(obj: Object) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    assert sorted(rendered, key=key) == sorted(objects, key=key)


# io-relay content: its own Deployment, Service, budget and ServiceMonitor, the relay's
# configuration and sealing keys


@pytest.fixture(scope="module")
def content_deployment(objects: list[Object]) -> Object:
    return the(objects, "Deployment", CONTENT)


@pytest.fixture(scope="module")
def content_pod(content_deployment: Object) -> Object:
    spec: Object = content_deployment["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def content_container(content_pod: Object) -> Object:
    containers: list[Object] = content_pod["containers"]
    (only,) = containers
    return only


@pytest.fixture
def content_settings(
    tmp_path: Path,
    objects: list[Object],
    content_pod: Object,
    content_container: Object,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The settings as the content container loads them: its mounts, its Secrets."""
    use_environment(monkeypatch, objects, content_container)
    mounted = rebuild_mounts(tmp_path, objects, content_pod, content_container)
    return load_settings(mounted / CONFIG_PATH.lstrip("/"))


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_the_content_container_runs_content_with_the_relays_image_and_config(
    content_container: Object, container: Object
) -> None:
    assert content_container["args"] == ["content", "--config", CONFIG_PATH]
    assert "command" not in content_container, "the image's entrypoint is io-relay"
    assert content_container["image"] == container["image"]
    mounts = {mount["mountPath"]: mount for mount in content_container["volumeMounts"]}
    assert mounts[CONFIG_PATH]["subPath"] == "config.yaml"


def test_content_probes_ask_health_and_readiness_on_the_metrics_port(
    content_container: Object, content_settings: Settings
) -> None:
    assert content_container["ports"] == [
        {"name": "content", "containerPort": content_settings.content.port, "protocol": "TCP"},
        {
            "name": "metrics",
            "containerPort": content_settings.observability.port,
            "protocol": "TCP",
        },
    ]
    assert (content_settings.content.port, content_settings.observability.port) == (9500, 9400)
    assert content_settings.content.host == content_settings.observability.host == "0.0.0.0"
    assert probe(content_container, "livenessProbe") == ("/healthz", "metrics")
    assert probe(content_container, "startupProbe") == ("/healthz", "metrics")
    assert probe(content_container, "readinessProbe") == ("/readyz", "metrics")


def test_no_selector_picks_the_other_deployments_pods(objects: list[Object]) -> None:
    """A relay pod under the content budget too (or the reverse) could not be evicted, and the
    relay's Service would have Prometheus scrape content replicas as job io-relay."""
    pods = {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
        for obj in objects
        if obj["kind"] == "Deployment"
    }
    assert pods == {NAME: POD_LABELS, CONTENT: CONTENT_POD_LABELS, HISTORY: HISTORY_POD_LABELS}
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "Deployment":
            found = [spec["selector"]["matchLabels"]]
            found += [
                constraint["labelSelector"]["matchLabels"]
                for constraint in spec["template"]["spec"].get("topologySpreadConstraints", [])
            ]
        elif obj["kind"] in {"Service", "PodDisruptionBudget"}:
            found = (
                [spec["selector"]]
                if obj["kind"] == "Service"
                else [spec["selector"]["matchLabels"]]
            )
        else:
            continue
        own = obj["metadata"]["name"]
        for selector in found:
            picked = [name for name, labels in pods.items() if selects(selector, labels)]
            assert picked == [own], f"{obj['kind']}/{own} selects the pods of {picked}"


def test_the_ingress_and_prometheus_reach_the_content_server(
    objects: list[Object], content_deployment: Object
) -> None:
    service = the(objects, "Service", CONTENT)
    assert service["spec"]["type"] == "ClusterIP"
    assert selects(
        service["spec"]["selector"], content_deployment["spec"]["template"]["metadata"]["labels"]
    )
    assert service["spec"]["ports"] == [
        {"name": "content", "port": 9500, "targetPort": "content", "protocol": "TCP"},
        {"name": "metrics", "port": 9400, "targetPort": "metrics", "protocol": "TCP"},
    ]
    monitor = the(objects, "ServiceMonitor", CONTENT)
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert not selects(
        the(objects, "ServiceMonitor")["spec"]["selector"]["matchLabels"],
        service["metadata"]["labels"],
    ), "two ServiceMonitors would scrape every content replica twice"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == (
        "metrics",
        "/metrics",
        "15s",
    )
    # The job label is the Service's name: the alerting rules select job="io-relay-content".
    assert "jobLabel" not in monitor["spec"]
    assert service["metadata"]["name"] == CONTENT


def test_content_replicas_roll_and_drain_without_losing_capacity(
    objects: list[Object], content_deployment: Object, content_pod: Object
) -> None:
    spec = content_deployment["spec"]
    assert spec["replicas"] >= 2, "any replica answers any request: one is a single point"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    budget = the(objects, "PodDisruptionBudget", CONTENT)["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    (container,) = content_pod["containers"]
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert content_pod["terminationGracePeriodSeconds"] > pause + SHUTDOWN_GRACE_S


def test_the_content_server_is_hardened_like_the_relay(
    content_pod: Object, content_container: Object, pod: Object, container: Object
) -> None:
    for key in ("securityContext", "automountServiceAccountToken", "enableServiceLinks"):
        assert content_pod[key] == pod[key], key
    assert content_container["securityContext"] == container["securityContext"]
    resources = content_container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"memory"}, "no CPU limit, as the relay"
    assert quantity(resources["limits"]["memory"]) >= quantity(resources["requests"]["memory"])


def test_the_content_references_resolve(
    objects: list[Object], content_pod: Object, content_container: Object
) -> None:
    config_maps = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "ConfigMap"}
    volumes = {volume["name"]: volume for volume in content_pod["volumes"]}
    assert {mount["name"] for mount in content_container["volumeMounts"]} == set(volumes)
    for volume in volumes.values():
        if "configMap" in volume:
            assert volume["configMap"]["name"] in config_maps
    for variable in content_container["env"]:
        ref = variable["valueFrom"]["secretKeyRef"]
        assert ref["key"] in secret_data(objects, ref["name"])
    for name in container_environment(objects, content_container):
        assert ENV_VAR_NAME.match(name), name


def test_relay_and_content_server_seal_with_the_same_keys(
    objects: list[Object], container: Object, content_container: Object, settings: Settings
) -> None:
    sealing = {source.key_env for source in settings.content.sealing_keys.values()}
    assert sealing
    assert all(
        source.key is None and source.key_file is None
        for source in settings.content.sealing_keys.values()
    ), "no sealing key in the ConfigMap"
    assert set(secret_data(objects, "io-relay-sealing")) == sealing
    for each in (container, content_container):
        assert {"secretRef": {"name": "io-relay-sealing"}} in each["envFrom"]
    # The relay has no use for what only the content server reads.
    assert {"secretRef": {"name": "io-relay-content"}} not in container["envFrom"]


def test_the_content_secret_holds_exactly_the_content_servers_key_env_names(
    objects: list[Object], content_settings: Settings
) -> None:
    content = content_settings.content
    sources = [
        *content.api_keys,
        *(source.auth for source in content.document_sources.values() if source.auth),
    ]
    assert all(source.key is None and source.key_file is None for source in sources)
    assert set(secret_data(objects, "io-relay-content")) == {source.key_env for source in sources}
    assert content.public_url is not None, "io-relay content refuses to start without it"
    assert content.accepted_keys().accepts("replace-me")
    assert {source.secret().get_secret_value() for source in sources} == {"replace-me"}


def test_the_sealing_key_placeholder_stops_the_start(content_settings: Settings) -> None:
    """A placeholder that decoded to a key would seal with a key everyone can read."""
    with pytest.raises(ConfigurationError, match="openssl rand -base64 32"):
        content_settings.content.key_ring()


# io-relay history: the status topic into PostgreSQL, with the relay's image and configuration


def test_the_history_container_runs_the_sink_with_the_relays_image_config_and_a_dsn(
    tmp_path: Path, objects: list[Object], container: Object, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = the(objects, "Deployment", HISTORY)
    pod: Object = history["spec"]["template"]["spec"]
    (sink,) = pod["containers"]
    assert sink["args"] == ["history", "--config", CONFIG_PATH]
    assert sink["image"] == container["image"]
    assert "ports" not in sink, "no HTTP: watched by its group's lag"
    assert history["spec"]["replicas"] == 1

    use_environment(monkeypatch, objects, sink)
    settings = load_settings(rebuild_mounts(tmp_path, objects, pod, sink) / CONFIG_PATH[1:])

    assert settings.history.enabled
    assert settings.history.dsn is not None
    assert settings.history.dsn.get_secret_value().startswith("postgresql://")
    assert not any(variable["name"].startswith("IO_KEY_") for variable in sink["env"])
