"""Self-test of the lab: real apiservers, loader, reset, RBAC users, audit log."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from lab import LAB_CRDS, LOADED_LABEL, Lab, LabUnavailable, iter_objects, lab_fixture_factory

# Module-scoped for now; the suite-wide session fixture will live in tests/conftest.py.
lab = lab_fixture_factory(scope="module")

NS = "submariner-operator"


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Resets the lab after every test that used it."""
    yield
    if "lab" in request.fixturenames:
        request.getfixturevalue("lab").reset()


def api_client(kubeconfig: Path, context: str, user_agent: str | None = None) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), context=context
    )
    if user_agent is not None:
        api.user_agent = user_agent
    return api


def as_dict(value: object) -> dict[str, Any]:
    """Custom-object calls return plain dicts; their declared return type is `object`."""
    assert isinstance(value, dict)
    return value


def gateway_pod(name: str = "submariner-gateway-abcde") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "submariner-gateway"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "gw", "image": "submariner"}]},
        "status": {"phase": "Running", "podIP": "10.244.1.7", "hostIP": "172.18.0.3"},
    }


def global_ingress_ip() -> dict[str, Any]:
    return {
        "apiVersion": "submariner.io/v1",
        "kind": "GlobalIngressIP",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"target": "ClusterIPService", "serviceRef": {"name": "nginx"}},
        "status": {"allocatedIP": "242.0.255.251", "conditions": []},
    }


@pytest.mark.lab
def test_pod_and_custom_resource_statuses_round_trip(lab: Lab) -> None:
    gateway = {
        "apiVersion": "submariner.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "node-1", "namespace": NS},
        "status": {"haStatus": "active", "connections": []},
    }
    lab.apply("member2", [gateway_pod(), global_ingress_ip(), gateway])

    api = api_client(lab.kubeconfig, "member2")
    pod = client.CoreV1Api(api).read_namespaced_pod("submariner-gateway-abcde", NS)
    assert pod.status is not None
    assert pod.metadata is not None
    assert pod.status.phase == "Running"
    assert pod.status.pod_ip == "10.244.1.7"
    assert (pod.metadata.labels or {})[LOADED_LABEL] == "true"

    custom = client.CustomObjectsApi(api)
    giip = as_dict(
        custom.get_namespaced_custom_object(
            "submariner.io", "v1", "default", "globalingressips", "nginx"
        )
    )
    assert giip["status"]["allocatedIP"] == "242.0.255.251"
    # Gateway has no status subresource upstream: its status is kept from the create.
    gw = as_dict(
        custom.get_namespaced_custom_object("submariner.io", "v1", NS, "gateways", "node-1")
    )
    assert gw["status"]["haStatus"] == "active"
    # Loaded into member2 only: the clusters are separate.
    with pytest.raises(client.ApiException) as missing:
        client.CoreV1Api(api_client(lab.kubeconfig, "member1")).read_namespaced_pod(
            "submariner-gateway-abcde", NS
        )
    assert missing.value.status == 404


@pytest.mark.lab
def test_reader_can_read_and_nobody_is_forbidden(lab: Lab) -> None:
    lab.apply("member1", [global_ingress_ip()])
    reader = api_client(lab.kubeconfig_reader, "member1")
    client.CoreV1Api(reader).list_namespaced_config_map("default")
    giips = as_dict(
        client.CustomObjectsApi(reader).list_cluster_custom_object(
            "submariner.io", "v1", "globalingressips"
        )
    )
    assert [item["metadata"]["name"] for item in giips["items"]] == ["nginx"]
    with pytest.raises(client.ApiException) as denied:
        client.CoreV1Api(reader).create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
        )
    assert denied.value.status == 403

    nobody = api_client(lab.kubeconfig_nobody, "member1")
    with pytest.raises(client.ApiException) as forbidden:
        client.CoreV1Api(nobody).list_namespaced_config_map("default")
    assert forbidden.value.status == 403


@pytest.mark.lab
def test_reset_removes_loaded_objects_but_keeps_namespaces_and_crds(lab: Lab) -> None:
    pod = gateway_pod()
    pod["metadata"]["finalizers"] = ["submariner.io/cleanup"]  # nobody would ever remove it
    for cluster in lab.clusters:
        lab.apply(cluster, [pod, global_ingress_ip()])
    started = time.monotonic()
    lab.reset()
    assert time.monotonic() - started < 5

    for cluster in lab.clusters:
        api = api_client(lab.kubeconfig, cluster)
        core = client.CoreV1Api(api)
        assert core.list_namespaced_pod(NS).items == []
        namespace = core.read_namespace(NS)
        assert namespace.status is not None
        assert namespace.status.phase == "Active"
        giips = as_dict(
            client.CustomObjectsApi(api).list_cluster_custom_object(
                "submariner.io", "v1", "globalingressips"
            )
        )
        assert giips["items"] == []
    # The same objects load again right away.
    lab.apply("member1", [gateway_pod(), global_ingress_ip()])


@pytest.mark.lab
def test_audit_log_records_requests_by_user_agent(lab: Lab) -> None:
    agent = "gdoctor-selftest/1.0"
    core = client.CoreV1Api(api_client(lab.kubeconfig, "member3", user_agent=agent))
    for _ in range(3):
        core.list_namespaced_config_map("default")
    events = lab.audit_events("member3", user_agent=agent)
    assert [(e["verb"], e["objectRef"]["resource"]) for e in events] == [("list", "configmaps")] * 3
    assert {e["user"]["username"] for e in events} == {"admin"}
    assert lab.audit_log("member3") == lab.workdir / "member3" / "audit.log"


@pytest.mark.lab
def test_endpointslices_are_served_as_v1beta1_only(lab: Lab) -> None:
    groups = client.ApisApi(api_client(lab.kubeconfig, "member1")).get_api_versions().groups
    discovery = next(group for group in groups if group.name == "discovery.k8s.io")
    assert [version.group_version for version in discovery.versions] == ["discovery.k8s.io/v1beta1"]
    version = client.VersionApi(api_client(lab.kubeconfig, "member1")).get_code()
    assert (version.major, version.minor) == ("1", "20")


@pytest.mark.lab
def test_lab_crds_are_served_with_upstream_scope_and_status(lab: Lab) -> None:
    kube = lab.client("member3")
    for spec in LAB_CRDS:
        resources = {r["name"]: r for r in kube.get(f"/apis/{spec.api_version}")["resources"]}
        assert resources[spec.plural]["kind"] == spec.kind
        assert resources[spec.plural]["namespaced"] == spec.namespaced
        assert (f"{spec.plural}/status" in resources) == spec.status_subresource


@pytest.mark.lab
def test_kubeconfigs_list_three_contexts_and_verify_tls(lab: Lab) -> None:
    for path, user in (
        (lab.kubeconfig, "admin"),
        (lab.kubeconfig_reader, "reader"),
        (lab.kubeconfig_nobody, "nobody"),
    ):
        kubeconfig = yaml.safe_load(path.read_text())
        assert [c["name"] for c in kubeconfig["contexts"]] == ["member1", "member2", "member3"]
        assert {c["context"]["user"] for c in kubeconfig["contexts"]} == {user}
        for entry in kubeconfig["clusters"]:
            assert "insecure-skip-tls-verify" not in entry["cluster"]
            assert entry["cluster"]["server"] == lab.server(entry["name"])
    assert len({lab.server(name) for name in lab.clusters}) == 3

    # Without the lab CA the serving certificate is rejected.
    host, port = lab.server("member1").removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname=host)


@pytest.mark.lab
def test_service_ranges_overlap_across_clusters(lab: Lab) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"clusterIP": "10.96.100.10", "ports": [{"port": 80}]},
    }
    lab.load({cluster: [service] for cluster in lab.clusters})
    for cluster in lab.clusters:
        core = client.CoreV1Api(api_client(lab.kubeconfig, cluster))
        spec = core.read_namespaced_service("nginx", "default").spec
        assert spec is not None
        assert spec.cluster_ip == "10.96.100.10"


@pytest.mark.lab
def test_apiserver_cannot_reach_beyond_loopback(lab: Lab) -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.3"}]},
    }
    lab.apply("member1", [node, gateway_pod()])
    core = client.CoreV1Api(api_client(lab.kubeconfig, "member1"))
    started = time.monotonic()
    with pytest.raises(client.ApiException) as failed:
        core.read_namespaced_pod_log("submariner-gateway-abcde", NS)
    assert "network is unreachable" in str(failed.value.body)
    assert time.monotonic() - started < 5


@pytest.mark.lab
def test_loading_a_scenario_into_three_clusters_is_fast(lab: Lab) -> None:
    objects = []
    for i in range(10):
        objects += [
            gateway_pod(f"pod-{i}"),
            {**global_ingress_ip(), "metadata": {"name": f"svc-{i}", "namespace": "default"}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}", "namespace": NS},
            },
        ]
    started = time.monotonic()
    lab.load({cluster: objects for cluster in lab.clusters})
    elapsed = time.monotonic() - started
    # The target is < 2 s; the bound leaves room for a busy CI machine.
    assert elapsed < 6, f"loading 3 x {len(objects)} objects took {elapsed:.2f}s"


def test_missing_binary_raises_lab_unavailable(tmp_path: Path) -> None:
    with pytest.raises(LabUnavailable, match=r"build-kube-apiserver\.sh"):
        Lab.start(tmp_path, binary=tmp_path / "no-such-kube-apiserver")


@pytest.mark.lab
def test_reset_everywhere_finds_labelled_objects_of_any_kind(lab: Lab) -> None:
    # Created behind the loader's back (as a test might), but with the loader's label.
    lab.client("member1").post(
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "stray", "labels": {LOADED_LABEL: "true"}}},
    )
    lab.reset(everywhere=True)
    core = client.CoreV1Api(api_client(lab.kubeconfig, "member1"))
    assert core.list_namespaced_config_map("default", label_selector=LOADED_LABEL).items == []


def test_iter_objects_flattens_documents_and_lists() -> None:
    docs = yaml.safe_load_all(
        "kind: ConfigMap\napiVersion: v1\n---\n---\n"
        "kind: List\napiVersion: v1\nitems:\n- {kind: Pod, apiVersion: v1}\n"
    )
    assert [obj["kind"] for obj in iter_objects(docs)] == ["ConfigMap", "Pod"]
