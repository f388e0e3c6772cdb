"""What every lab cluster gets before a test runs: CRDs and the reader's RBAC.

These objects carry `gdoctor-lab/bootstrap=true`, not the loader's label, so reset() keeps them.
"""

from __future__ import annotations

import time

from .client import JsonObject, KubeClient
from .crds import BOOTSTRAP_LABEL, LAB_CRDS, crd_manifest, is_established
from .discovery import Discovery
from .errors import ApiError, LabStartError

CRD_READER_ROLE = "gdoctor-lab-crd-reader"
_CRD_GROUPS = sorted({spec.group for spec in LAB_CRDS})
_AGGREGATED_ROLES = ("admin", "edit", "view")
_RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _create(client: KubeClient, path: str, body: JsonObject) -> None:
    try:
        client.post(path, body)
    except ApiError as err:
        if err.status != 409:
            raise


def _meta(name: str) -> JsonObject:
    return {"name": name, "labels": {BOOTSTRAP_LABEL: "true"}}


def aggregate_cluster_roles(client: KubeClient) -> None:
    """Fills the built-in aggregated ClusterRoles (view, edit, admin).

    The apiserver bootstraps them with only an aggregationRule; copying the rules of the
    `aggregate-to-*` roles into them is kube-controller-manager's job, which the lab does not
    run. Without this the `view` role grants nothing.
    """
    for name in _AGGREGATED_ROLES:
        role = client.get(f"{_RBAC}/clusterroles/{name}")
        rules: list[JsonObject] = []
        for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors", []):
            labels = selector.get("matchLabels", {})
            query = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            for source in client.get(f"{_RBAC}/clusterroles", labelSelector=query)["items"]:
                rules.extend(rule for rule in source.get("rules") or [] if rule not in rules)
        client.merge_patch(f"{_RBAC}/clusterroles/{name}", {"rules": rules})


def install_reader_rbac(client: KubeClient, reader: str) -> None:
    """reader: the built-in `view` role everywhere, plus read access to the lab's CRD groups,
    nodes, APIServices and webhook configurations (what a read-only gdoctor needs)."""
    _create(
        client,
        f"{_RBAC}/clusterroles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(CRD_READER_ROLE),
            "rules": [
                {"apiGroups": _CRD_GROUPS, "resources": ["*"], "verbs": ["get", "list", "watch"]},
                # What a read-only gdoctor needs beyond `view`: cluster-scoped infrastructure.
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                {
                    "apiGroups": ["apiregistration.k8s.io", "admissionregistration.k8s.io"],
                    "resources": ["*"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
    )
    for binding, role in ((f"{reader}-view", "view"), (f"{reader}-crds", CRD_READER_ROLE)):
        _create(
            client,
            f"{_RBAC}/clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": _meta(f"gdoctor-lab-{binding}"),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": reader}
                ],
            },
        )


def install_crds(client: KubeClient) -> None:
    for spec in LAB_CRDS:
        _create(
            client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_manifest(spec)
        )


def wait_for_crds(client: KubeClient, discovery: Discovery, timeout: float = 30.0) -> None:
    """Until every lab CRD is Established and its group-version lists it (with /status)."""
    deadline = time.monotonic() + timeout
    pending = {spec.name: spec for spec in LAB_CRDS}
    while pending:
        listing = client.get(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            labelSelector=f"{BOOTSTRAP_LABEL}=true",
        )
        for crd in listing["items"]:
            name = crd["metadata"]["name"]
            spec = pending.get(name)
            if spec is None or not is_established(crd):
                continue
            discovery.invalidate(spec.api_version)
            served = discovery.resources(spec.api_version).get(spec.kind)
            if served is not None and served.has_status == spec.status_subresource:
                del pending[name]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise LabStartError(f"CRDs not served after {timeout:.0f}s: {sorted(pending)}")
        time.sleep(0.05)
