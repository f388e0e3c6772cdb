"""`gdoctor fix` for the Calico checks GD201, GD202 and GD203, and their undo, against the lab."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest
from gdoctor_run import assert_golden, gdoctor, run_id_of, statuses, without_server_fields
from lab import LAB_CRDS, ApiError, Lab
from lab.crds import crd_manifest, is_established
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

PLAN_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schemas" / "fix-plan.schema.json").read_text()
)

CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/calico-config"
DAEMONSET = "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node"
POOL_APIS = ("/apis/crd.projectcalico.org/v1/ippools", "/apis/projectcalico.org/v3/ippools")
V3_POOLS, CRD_POOLS = POOL_APIS[1], POOL_APIS[0]
MANAGED_BY_GDOCTOR = "app.kubernetes.io/managed-by=gdoctor"
CALICO_API_SERVICE = "/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org"
V3_CRD = next(spec for spec in LAB_CRDS if spec.group == "projectcalico.org")

BGP_AND_IPIP = SCENARIOS / "GD201" / "ipip-and-bgp-as-installed-FAIL"
IPIP_ENV_ONLY = SCENARIOS / "GD201" / "ipip-crosssubnet-env-only-FAIL"
IPIP_POOL_V3 = SCENARIOS / "GD201" / "ipip-pool-through-v3-api-FAIL"
VXLAN_EVERYWHERE = SCENARIOS / "GD201" / "vxlan-everywhere-PASS"
OPERATOR_IPIP = SCENARIOS / "GD201" / "operator-installed-calico-on-ipip-FAIL"
BIRD_PROBES = SCENARIOS / "GD202" / "bird-probes-after-switch-to-vxlan-FAIL"
SHELL_PROBE = SCENARIOS / "GD202" / "shell-probe-and-literal-backend-env-FAIL"
POOL_MISSING = SCENARIOS / "GD203" / "remote-global-pool-missing-FAIL"
POOL_SET_WRONG = SCENARIOS / "GD203" / "pool-with-nat-or-enabled-FAIL"
SERVICE_POOL_MISSING = SCENARIOS / "GD203" / "service-pool-missing-is-a-warning-FAIL"
GLOBALNET_OFF = SCENARIOS / "GD203" / "globalnet-off-only-global-pools-FAIL"
SUBMARINER_CREATES = SCENARIOS / "GD203" / "submariner-0.16-creates-remote-pools-itself-FAIL"


@pytest.fixture(autouse=True)
def no_pools_left_by_gdoctor(lab_session: Lab) -> Iterator[None]:
    """The lab's reset removes only what it loaded: pools a fix created (and an undo that did
    not run left) would leak into later tests."""
    yield
    for cluster in lab_session.clusters:
        for api in POOL_APIS:
            try:
                lab_session.client(cluster).delete(api, labelSelector=MANAGED_BY_GDOCTOR)
            except ApiError as exc:
                if exc.status != 404:  # the v3 API is absent while a test removed it
                    raise


def get(lab, cluster, path):
    return lab.client(cluster).get(path)


def calico_objects(lab, cluster):
    """Everything the Calico fixes may change or create in one cluster, comparable."""
    objects = {
        "ConfigMap": without_server_fields(get(lab, cluster, CONFIGMAP)),
        "DaemonSet": without_server_fields(get(lab, cluster, DAEMONSET)),
    }
    for api in POOL_APIS:
        try:
            items = get(lab, cluster, api)["items"]
        except ApiError as exc:
            if exc.status != 404:
                raise
            continue
        for pool in items:
            objects[f"{api}/{pool['metadata']['name']}"] = without_server_fields(pool)
    return objects


def plan_without_run_id(run):
    document = run.json()
    document["runId"] = None
    return json.dumps(document, indent=2) + "\n"


def container(daemonset):
    (found,) = daemonset["spec"]["template"]["spec"]["containers"]
    return found


def env_of(daemonset):
    return {e["name"]: e.get("value") for e in container(daemonset)["env"]}


def probe_commands(daemonset):
    return [
        container(daemonset)[probe]["exec"]["command"]
        for probe in ("livenessProbe", "readinessProbe")
    ]


@contextmanager
def without_calico_api_server(lab: Lab, cluster: str) -> Iterator[None]:
    """The cluster without projectcalico.org/v3, as where Calico's API server is not installed.

    The lab serves that API through a CRD, so the CRD goes (with the v3 pools in it) and the
    apiserver withdraws APIService v3.projectcalico.org; both come back afterwards, because
    the lab is shared by every later test.
    """
    client = lab.client(cluster)
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    client.delete(f"{crds}/{V3_CRD.name}")
    try:
        _wait_until(lambda: _absent(client, CALICO_API_SERVICE) and _absent(client, V3_POOLS))
        yield
    finally:
        try:
            _wait_until(lambda: _absent(client, f"{crds}/{V3_CRD.name}"))
            client.post(crds, crd_manifest(V3_CRD))
        finally:
            _wait_until(
                lambda: (
                    is_established(client.get(f"{crds}/{V3_CRD.name}"))
                    and not _absent(client, V3_POOLS)
                    and not _absent(client, CALICO_API_SERVICE)
                )
            )


def _absent(client, path):
    try:
        client.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return True
        raise
    return False


def _wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the lab did not settle in time"
        time.sleep(0.1)


# -- GD201 ---------------------------------------------------------------------------------


def test_gd201_is_unsafe_and_refused_without_unsafe(lab):
    load(lab, load_scenario(BGP_AND_IPIP))
    before = calico_objects(lab, "member2")
    run = gdoctor("fix", "GD201", "--yes", *kubeconfig_args(lab))
    assert run.code == 2, run.stdout + run.stderr
    assert "GD201 is unsafe" in run.stderr
    assert "--unsafe" in run.stderr
    assert calico_objects(lab, "member2") == before


def test_gd201_dry_run_plans_pools_configmap_then_daemonset(lab):
    load(lab, load_scenario(BGP_AND_IPIP))
    before = calico_objects(lab, "member2")
    run = gdoctor("fix", "GD201", "--dry-run", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    plan = run.json()
    jsonschema.validate(plan, PLAN_SCHEMA)
    (fix,) = plan["fixes"]
    assert (fix["cluster"], fix["safety"], fix["outcome"]) == (
        "member2",
        "unsafe",
        "changes pending",
    )
    # Calico's own migration order: the pools go VXLAN before BIRD goes away.
    assert [(s["kind"], s["irreversible"], s["answer"]) for s in fix["steps"]] == [
        ("IPPool", False, "ok"),
        ("ConfigMap", False, "ok"),
        ("DaemonSet", False, "ok"),
    ]
    assert calico_objects(lab, "member2") == before
    assert_golden("fix-plan-gd201-bird-and-ipip.json", plan_without_run_id(run))


@pytest.mark.parametrize(
    ("scenario", "cluster"),
    [(BGP_AND_IPIP, "member2"), (IPIP_ENV_ONLY, "member3"), (IPIP_POOL_V3, "member1")],
    ids=["bird-and-ipip", "ipip-env-only", "ipip-pool-v3"],
)
def test_gd201_switches_to_vxlan_is_idempotent_and_undoes(lab, scenario, cluster):
    load(lab, load_scenario(scenario))
    original = calico_objects(lab, cluster)
    run = gdoctor("fix", "GD201", "--yes", "--unsafe", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    assert f"GD201 calico-not-vxlan on {cluster} [unsafe]: fixed" in run.stdout

    fixed = calico_objects(lab, cluster)
    assert fixed["ConfigMap"]["data"]["calico_backend"] == "vxlan"
    env = env_of(fixed["DaemonSet"])
    assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == ("Never", "Always")
    for name, pool in fixed.items():
        spec = pool.get("spec", {})
        if name.startswith("/apis") and not spec.get("disabled"):
            assert (spec["ipipMode"], spec["vxlanMode"]) == ("Never", "Always"), name
    # BIRD no longer runs, so its probe flags went in the same rollout: GD202 passes too.
    assert probe_commands(fixed["DaemonSet"]) == [
        ["/bin/calico-node", "-felix-live"],
        ["/bin/calico-node", "-felix-ready"],
    ]
    check = gdoctor("check", "GD201", "GD202", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD201"][cluster] == "pass"
    assert statuses(check.json())["GD202"][cluster] == "pass"

    again = gdoctor("fix", "GD201", "--yes", "--unsafe", *kubeconfig_args(lab))
    assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    assert "cannot undo" not in undo.stdout  # nothing irreversible was done
    assert calico_objects(lab, cluster) == original


def test_gd201_restarts_calico_node_when_only_the_configmap_changes(lab):
    load(lab, load_scenario(VXLAN_EVERYWHERE))
    lab.client("member2").merge_patch(CONFIGMAP, {"data": {"calico_backend": "bird"}})
    before = get(lab, "member2", DAEMONSET)
    run = gdoctor("fix", "GD201", "--yes", "--unsafe", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    assert get(lab, "member2", CONFIGMAP)["data"]["calico_backend"] == "vxlan"
    # calico-node reads calico_backend only when it starts: the template changes so that the
    # DaemonSet controller restarts it; nothing else in the DaemonSet does.
    after = get(lab, "member2", DAEMONSET)
    template = after["spec"]["template"]
    assert template["metadata"]["annotations"] == {"gdoctor/calico-backend": "vxlan"}
    template["metadata"].pop("annotations")
    assert template == before["spec"]["template"]


def test_operator_managed_calico_is_found_and_its_fix_is_refused_naming_the_installation(lab):
    """The Tigera operator reverts edits to calico-node: the finding and the refusal both point
    at its Installation, and nothing is changed."""
    load(lab, load_scenario(OPERATOR_IPIP))
    operator_daemonset = "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node"
    before = get(lab, "member2", operator_daemonset)
    check = gdoctor("check", "GD201", "-o", "json", *kubeconfig_args(lab))
    (result,) = [r for r in check.json()["results"] if r["cluster"] == "member2"]
    (finding,) = result["findings"]
    assert finding["evidence"]["backendSource"] == (
        "DaemonSet calico-system/calico-node env CALICO_NETWORKING_BACKEND"
    )
    assert finding["remediation"]["text"].startswith(
        "Calico is the Tigera operator's (Installation default), which reverts edits to "
        "calico-node: switch it to VXLAN in the Installation"
    )
    run = gdoctor("fix", "GD201", "--yes", "--unsafe", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 2, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    assert (fix["cluster"], fix["outcome"], fix["steps"]) == ("member2", "not planned", [])
    assert fix["detail"].startswith(
        "calico-node in member2 (DaemonSet calico-system/calico-node) is managed by the Tigera "
        "operator from its Installation default, which reverts edits to it"
    )
    after = get(lab, "member2", operator_daemonset)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_cluster_without_a_plan_stops_the_run_and_says_how_to_fix_the_others(lab):
    load(lab, load_scenario(OPERATOR_IPIP))
    lab.client("member1").merge_patch(CONFIGMAP, {"data": {"calico_backend": "bird"}})
    run = gdoctor("fix", "GD201", "--yes", "--unsafe", *kubeconfig_args(lab))
    assert run.code == 2, run.stdout + run.stderr
    assert run.stderr.strip().endswith(
        "nothing applied: no plan could be made for GD201 in member2 (reason above); "
        "to fix member1 now, name it with --context"
    )
    assert get(lab, "member1", CONFIGMAP)["data"]["calico_backend"] == "bird"
    only = gdoctor(
        "fix", "GD201", "--yes", "--unsafe", "--context", "member1", *kubeconfig_args(lab)
    )
    assert only.code == 0, only.stdout + only.stderr
    assert get(lab, "member1", CONFIGMAP)["data"]["calico_backend"] == "vxlan"


def test_fix_all_goes_on_past_a_cluster_without_a_plan_and_exits_1(lab):
    load(lab, load_scenario(OPERATOR_IPIP))
    lab.client("member1").merge_patch(CONFIGMAP, {"data": {"calico_backend": "bird"}})
    run = gdoctor("fix", "--all", "--yes", "--unsafe", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    outcomes = {(f["fix"], f["cluster"]): f["outcome"] for f in run.json()["fixes"]}
    assert outcomes[("GD201", "member2")] == "not planned"
    assert outcomes[("GD201", "member1")] != "not planned"
    assert get(lab, "member1", CONFIGMAP)["data"]["calico_backend"] == "vxlan"
    assert run.stderr.strip().endswith(
        "not applied: no plan could be made for GD201 in member2 (reason above); the rest went on"
    )


# -- GD202 ---------------------------------------------------------------------------------


def test_gd202_dry_run_plans_one_daemonset_update(lab):
    load(lab, load_scenario(BIRD_PROBES))
    run = gdoctor("fix", "GD202", "--dry-run", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    plan = run.json()
    jsonschema.validate(plan, PLAN_SCHEMA)
    (fix,) = plan["fixes"]
    assert (fix["cluster"], fix["safety"]) == ("member1", "disruptive")
    assert [(s["action"], s["kind"], s["irreversible"]) for s in fix["steps"]] == [
        ("update", "DaemonSet", False)
    ]
    assert_golden("fix-plan-gd202-bird-probes.json", plan_without_run_id(run))


@pytest.mark.parametrize(
    ("scenario", "cluster", "probes"),
    [
        (
            BIRD_PROBES,
            "member1",
            [["/bin/calico-node", "-felix-live"], ["/bin/calico-node", "-felix-ready"]],
        ),
        (
            SHELL_PROBE,
            "member3",
            [
                ["/bin/calico-node", "-felix-live"],
                ["/bin/sh", "-c", "/bin/calico-node -felix-ready"],
            ],
        ),
    ],
    ids=["flag-words", "sh-c-string"],
)
def test_gd202_removes_only_the_bird_flags_and_undoes(lab, scenario, cluster, probes):
    load(lab, load_scenario(scenario))
    original = get(lab, cluster, DAEMONSET)
    run = gdoctor("fix", "GD202", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    assert f"GD202 calico-bird-probes on {cluster} [disruptive]: fixed" in run.stdout

    fixed = get(lab, cluster, DAEMONSET)
    assert probe_commands(fixed) == probes
    # Every other field of the DaemonSet is as it was.
    assert without_probe_commands(fixed) == without_probe_commands(original)
    check = gdoctor("check", "GD202", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD202"][cluster] == "pass"

    again = gdoctor("fix", "GD202", "--yes", *kubeconfig_args(lab))
    assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    assert f"undone: update DaemonSet kube-system/calico-node in {cluster}" in undo.stdout
    restored = get(lab, cluster, DAEMONSET)
    assert without_server_fields(restored) == without_server_fields(original)


def without_probe_commands(daemonset):
    copy = without_server_fields(daemonset)
    for probe in ("livenessProbe", "readinessProbe"):
        container(copy)[probe]["exec"].pop("command")
    return copy


# -- GD203 ---------------------------------------------------------------------------------


def test_gd203_dry_run_plans_a_pool_through_v3(lab):
    load(lab, load_scenario(POOL_MISSING))
    run = gdoctor("fix", "GD203", "--dry-run", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    plan = run.json()
    jsonschema.validate(plan, PLAN_SCHEMA)
    (fix,) = plan["fixes"]
    assert (fix["cluster"], fix["safety"]) == ("member2", "safe")
    assert [(s["action"], s["apiVersion"], s["name"], s["answer"]) for s in fix["steps"]] == [
        ("create", "projectcalico.org/v3", "gdoctor-cluster-c-242.2.0.0-16", "ok")
    ]
    assert get(lab, "member2", V3_POOLS)["items"] == []  # a dry run creates nothing
    assert_golden("fix-plan-gd203-pool-missing.json", plan_without_run_id(run))


@pytest.mark.parametrize(
    ("scenario", "clusters"),
    [
        (POOL_MISSING, ["member2"]),
        (POOL_SET_WRONG, ["member1", "member3"]),
        (SERVICE_POOL_MISSING, ["member1", "member3"]),
    ],
    ids=["remote-missing", "nat-or-enabled", "service-missing"],
)
def test_gd203_creates_or_sets_the_pools_is_idempotent_and_undoes(lab, scenario, clusters):
    load(lab, load_scenario(scenario))
    original = {cluster: calico_objects(lab, cluster) for cluster in lab.clusters}
    run = gdoctor("fix", "GD203", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    for cluster in clusters:
        assert f"GD203 calico-ippools-missing on {cluster} [safe]: fixed" in run.stdout
    check = gdoctor("check", "GD203", "-o", "json", *kubeconfig_args(lab))
    assert set(statuses(check.json())["GD203"].values()) == {"pass"}

    again = gdoctor("fix", "GD203", "--yes", *kubeconfig_args(lab))
    assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    # Created pools are deleted again, changed ones restored.
    assert {cluster: calico_objects(lab, cluster) for cluster in lab.clusters} == original


def test_gd203_leaves_the_pools_submariner_creates_itself_alone(lab):
    """Submariner 0.16.0 on creates submariner-<id>-<subnet> itself: a gdoctor pool over the same
    CIDR would make Calico reject Submariner's, so the fix creates nothing."""
    load(lab, load_scenario(SUBMARINER_CREATES))
    before = {cluster: calico_objects(lab, cluster) for cluster in lab.clusters}
    run = gdoctor("fix", "GD203", "--yes", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 2, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    assert (fix["cluster"], fix["outcome"], fix["steps"]) == ("member2", "not planned", [])
    assert fix["detail"].startswith(
        "Submariner 0.17.2 creates IPPool submariner-cluster-c-242.2.0.0-16 (242.2.0.0/16) for "
        "cluster-c's globalCIDR 242.2.0.0/16 itself"
    )
    assert {cluster: calico_objects(lab, cluster) for cluster in lab.clusters} == before


def test_gd203_creates_through_v3_when_the_calico_api_server_serves_it(lab):
    load(lab, load_scenario(POOL_MISSING))
    run = gdoctor("fix", "GD203", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    (pool,) = get(lab, "member2", V3_POOLS)["items"]
    assert pool["metadata"]["name"] == "gdoctor-cluster-c-242.2.0.0-16"
    assert pool["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "gdoctor"}
    assert pool["spec"] == {
        "cidr": "242.2.0.0/16",
        "blockSize": 26,
        "disabled": True,
        "natOutgoing": False,
        "ipipMode": "Never",
        "vxlanMode": "Never",
    }
    crd_names = [p["metadata"]["name"] for p in get(lab, "member2", CRD_POOLS)["items"]]
    assert "gdoctor-cluster-c-242.2.0.0-16" not in crd_names


def test_gd203_creates_through_crd_v1_without_the_calico_api_server(lab):
    load(lab, load_scenario(POOL_MISSING))
    with without_calico_api_server(lab, "member2"):
        run = gdoctor("fix", "GD203", "--yes", *kubeconfig_args(lab))
        assert run.code == 0, run.stdout + run.stderr
        assert "through crd.projectcalico.org/v1" in run.stdout
        pool = get(lab, "member2", f"{CRD_POOLS}/gdoctor-cluster-c-242.2.0.0-16")
        assert pool["apiVersion"] == "crd.projectcalico.org/v1"
        assert pool["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "gdoctor"}
        assert (pool["spec"]["disabled"], pool["spec"]["natOutgoing"]) == (True, False)
        check = gdoctor("check", "GD203", "-o", "json", *kubeconfig_args(lab))
        assert statuses(check.json())["GD203"]["member2"] == "pass"

        undo = gdoctor("undo", run_id_of(run))
        assert undo.code == 0, undo.stdout
        assert "undone: create IPPool gdoctor-cluster-c-242.2.0.0-16 in member2" in undo.stdout
        names = [p["metadata"]["name"] for p in get(lab, "member2", CRD_POOLS)["items"]]
        assert "gdoctor-cluster-c-242.2.0.0-16" not in names


def test_gd203_never_disables_the_local_pod_pool(lab):
    # member1 and member2 run their pods in 10.43.0.0/16, which is also cluster-c's pod CIDR:
    # the only change that would make GD203 pass there cuts their pods off, so the fix refuses
    # and, as for every plan that cannot be made, nothing is applied anywhere.
    load(lab, load_scenario(GLOBALNET_OFF))
    before = {cluster: calico_objects(lab, cluster) for cluster in lab.clusters}
    refused = gdoctor("fix", "GD203", "--yes", *kubeconfig_args(lab))
    assert refused.code == 2, refused.stdout + refused.stderr
    for cluster in ("member1", "member2"):
        assert (
            f"GD203 calico-ippools-missing on {cluster} [safe]: not planned (IPPool "
            "default-ipv4-ippool (10.43.0.0/16) covers cluster-c's clusterCIDR 10.43.0.0/16"
        ) in refused.stdout
    assert {cluster: calico_objects(lab, cluster) for cluster in lab.clusters} == before


def test_gd203_refuses_a_pool_that_would_overlap_a_smaller_one(lab):
    load(lab, load_scenario(POOL_MISSING))
    # Part of cluster-c's 242.2.0.0/16 already has a pool: Calico rejects overlapping pools.
    smaller = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": "cluster-c-part"},
        "spec": {"cidr": "242.2.0.0/24", "disabled": True, "natOutgoing": False},
    }
    lab.apply("member2", [smaller])
    refused = gdoctor("fix", "GD203", "--yes", *kubeconfig_args(lab))
    assert refused.code == 2, refused.stdout + refused.stderr
    assert (
        "not planned (IPPool cluster-c-part (242.2.0.0/24) lies inside cluster-c's globalCIDR "
        "242.2.0.0/16, and Calico rejects overlapping pools"
    ) in refused.stdout
    assert get(lab, "member2", V3_POOLS)["items"] == []
