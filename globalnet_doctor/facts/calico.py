"""Calico: its presence, its networking backend and its IP pools.

Calico is present when ConfigMap ``kube-system/calico-config`` or DaemonSet
``kube-system/calico-node`` exists (what the Submariner operator's own detection looks for), or
DaemonSet ``calico-system/calico-node``, where the Tigera operator installs it and manages it from
its ``Installation`` (operator.tigera.io): edits to that DaemonSet are reverted, so its fixes go
through the Installation.
IP pools are read through both APIs Calico offers: the ``crd.projectcalico.org/v1`` CRDs (always
there) and the ``projectcalico.org/v3`` API of the Calico API server (optional); either may be
absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import Network, overlaps, parse_network
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject, NotApplicable

NAMESPACE = "kube-system"
CONFIGMAP = "calico-config"
DAEMONSET = "calico-node"
BACKEND_KEY = "calico_backend"
BACKEND_ENV = "CALICO_NETWORKING_BACKEND"
DEFAULT_BACKEND = "bird"
"""What calico-node runs when nothing sets the backend."""

OPERATOR_NAMESPACE = "calico-system"
"""Where the Tigera operator runs calico-node."""
OPERATOR_OWNER = ("operator.tigera.io/v1", "Installation")

PRESENCE_READS = (
    Read(kinds.CONFIGMAPS, NAMESPACE, CONFIGMAP),
    Read(kinds.DAEMONSETS, NAMESPACE, DAEMONSET),
    Read(kinds.DAEMONSETS, OPERATOR_NAMESPACE, DAEMONSET),
)
IPIP_ENV = "CALICO_IPV4POOL_IPIP"
BIRD_FLAGS = frozenset({"-bird-live", "-bird-ready"})
"""calico-node's probe flags that ask BIRD, which only the bird backend starts."""
BIRDLESS_BACKENDS = frozenset({"vxlan", "none"})
"""Backends that start no BIRD, so probes must not ask it."""
V3_API = "projectcalico.org/v3"
CRD_API = "crd.projectcalico.org/v1"
POOL_KINDS = (kinds.CALICO_IPPOOLS_V3, kinds.CALICO_IPPOOLS_CRD)
"""The v3 API first: where the Calico API server runs, it is what users and Calico write."""
POOL_READS = tuple(Read(kind) for kind in POOL_KINDS)


def calico_config(view: ClusterView) -> KubeObject | None:
    return view.get(kinds.CONFIGMAPS, CONFIGMAP, NAMESPACE)


def calico_node(view: ClusterView) -> KubeObject | None:
    """The calico-node DaemonSet: a manifest install's, else the Tigera operator's."""
    return view.get(kinds.DAEMONSETS, DAEMONSET, NAMESPACE) or view.get(
        kinds.DAEMONSETS, DAEMONSET, OPERATOR_NAMESPACE
    )


def daemonset_name(daemonset: KubeObject) -> str:
    metadata = objects.metadata(daemonset)
    return f"{metadata.get('namespace', NAMESPACE)}/{metadata.get('name', DAEMONSET)}"


def operator_installation(daemonset: KubeObject | None) -> str | None:
    """The Tigera operator's Installation that manages calico-node (its owner), or None for a
    manifest install. A DaemonSet in calico-system counts as the operator's even without the
    owner reference (a copy made by hand would be unusual)."""
    if daemonset is None:
        return None
    metadata = objects.metadata(daemonset)
    for owner in metadata.get("ownerReferences") or []:
        if (owner.get("apiVersion"), owner.get("kind")) == OPERATOR_OWNER:
            return f"Installation {owner.get('name', 'default')}"
    if metadata.get("namespace") == OPERATOR_NAMESPACE:
        return "Installation default"
    return None


def calico_present(view: ClusterView) -> bool:
    return calico_config(view) is not None or calico_node(view) is not None


def require_calico(view: ClusterView) -> None:
    """Raises ``NotApplicable`` (so the check skips) where Calico is not installed."""
    if not calico_present(view):
        raise NotApplicable(
            f"Calico is not installed (no ConfigMap {NAMESPACE}/{CONFIGMAP} and no DaemonSet "
            f"{DAEMONSET} in {NAMESPACE} or {OPERATOR_NAMESPACE})"
        )


def calico_node_containers(daemonset: KubeObject) -> list[Mapping[str, Any]]:
    """The calico-node containers of the DaemonSet's pod template (init containers excluded)."""
    pod_spec = objects.pod_template_spec(daemonset)
    containers: list[Mapping[str, Any]] = pod_spec.get("containers") or []
    named = [c for c in containers if c.get("name") == DAEMONSET]
    return named or containers


def literal_env(container: Mapping[str, Any]) -> dict[str, str]:
    """The container's environment variables that carry a literal value (not ``valueFrom``)."""
    return {
        str(item["name"]): str(item["value"])
        for item in container.get("env") or []
        if "name" in item and item.get("value") is not None
    }


@dataclass(frozen=True, slots=True)
class Backend:
    value: str | None
    """calico_backend as configured; None when nothing sets it (calico-node then runs BIRD)."""
    source: str
    """Where the value was read, for the evidence."""
    origin: tuple[Kind, KubeObject] | None = None
    """The object the value was read from."""

    @property
    def effective(self) -> str:
        return (self.value or DEFAULT_BACKEND).strip().lower()


def networking_backend(view: ClusterView) -> Backend:
    """The backend calico-node runs: a literal ``CALICO_NETWORKING_BACKEND`` on the container
    wins (it is what calico-node reads), else ``calico_backend`` of calico-config (which the
    standard manifest wires into that variable)."""
    daemonset = calico_node(view)
    if daemonset is not None:
        for container in calico_node_containers(daemonset):
            value = literal_env(container).get(BACKEND_ENV)
            if value:
                source = f"DaemonSet {daemonset_name(daemonset)} env {BACKEND_ENV}"
                return Backend(value, source, (kinds.DAEMONSETS, daemonset))
    configmap = calico_config(view)
    if configmap is not None:
        value = objects.data(configmap).get(BACKEND_KEY)
        if value:
            source = f"ConfigMap {NAMESPACE}/{CONFIGMAP} {BACKEND_KEY}"
            return Backend(str(value), source, (kinds.CONFIGMAPS, configmap))
    return Backend(None, "not set")


@dataclass(frozen=True, slots=True)
class IPPool:
    """One Calico IP pool, with Calico's defaults applied to the fields left out."""

    name: str
    kind: Kind
    api_version: str
    cidr: str
    network: Network | None
    disabled: bool
    nat_outgoing: bool
    ipip_mode: str
    vxlan_mode: str
    obj: KubeObject

    def summary(self) -> dict[str, Any]:
        """The values read, as evidence."""
        return {
            "name": self.name,
            "apiVersion": self.api_version,
            "cidr": self.cidr,
            "disabled": self.disabled,
            "natOutgoing": self.nat_outgoing,
            "ipipMode": self.ipip_mode,
            "vxlanMode": self.vxlan_mode,
        }


def _pool(obj: KubeObject, kind: Kind, api_version: str) -> IPPool:
    spec = objects.spec(obj)
    cidr = str(spec.get("cidr") or "")
    return IPPool(
        name=str(objects.metadata(obj).get("name", "")),
        kind=kind,
        api_version=str(obj.get("apiVersion") or api_version),
        cidr=cidr,
        network=parse_network(cidr),
        disabled=spec.get("disabled") is True,
        nat_outgoing=spec.get("natOutgoing") is True,
        # Calico's defaults for a pool that leaves the modes out.
        ipip_mode=str(spec.get("ipipMode") or "Never"),
        vxlan_mode=str(spec.get("vxlanMode") or "Never"),
        obj=obj,
    )


@dataclass(frozen=True, slots=True)
class PoolListing:
    pools: tuple[IPPool, ...]
    apis: dict[str, str]
    """apiVersion (or group) -> "read", or why it could not be read (absent, forbidden)."""


def ip_pools(view: ClusterView) -> PoolListing:
    """Every IP pool, from whichever of the two APIs the cluster serves.

    With the Calico API server both APIs show the same pools by name: the v3 copy is kept.
    Raises ``InputUnavailable`` only when neither API can be read.
    """
    pools: dict[str, IPPool] = {}
    apis: dict[str, str] = {}
    reasons: list[str] = []
    for kind in POOL_KINDS:
        label = f"{kind.group}/{kind.versions[0]}"
        try:
            objects = view.list(kind)
        except InputUnavailable as exc:
            apis[label] = exc.reason
            reasons.append(exc.reason)
            continue
        apis[label] = "read"
        api_version = view.api_version(kind) or label
        for obj in objects:
            pool = _pool(obj, kind, api_version)
            pools.setdefault(pool.name, pool)
    if len(reasons) == len(POOL_KINDS):
        raise InputUnavailable("Calico IP pools cannot be read: " + "; ".join(reasons))
    return PoolListing(tuple(sorted(pools.values(), key=lambda p: p.name)), apis)


VXLAN_ENV = "CALICO_IPV4POOL_VXLAN"
"""calico-node's variable for the vxlanMode of the IPv4 pool it creates when none exists."""
ENCAPSULATING = frozenset({"always", "crosssubnet"})
"""Pool modes (and the values of the pool variables) that turn an encapsulation on."""

ROKS_POOL = "default-ipv4-ippool"
ROKS_MANAGED_LABEL = "submariner-managed"
ROKS_PREVIOUS_MODE = "submariner-prev-ipipmode"
"""Submariner's route agent (0.17.0 on, ``ippool_handler.go updateROKSCalicoCfg``) sets
``ipipMode: Always`` on ``default-ipv4-ippool`` on IBM ROKS (Service ``submariner-gateway``
annotated ``service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type``), marking the pool
with this label (``"true"``) and the previous mode in this annotation."""


def roks_managed_pool(pools: tuple[IPPool, ...]) -> IPPool | None:
    """The pool Submariner itself switched to IPIP for IBM ROKS, if there is one."""
    for pool in pools:
        metadata = objects.metadata(pool.obj)
        labels = metadata.get("labels") or {}
        if (
            pool.name == ROKS_POOL
            and str(labels.get(ROKS_MANAGED_LABEL, "")).lower() == "true"
            and pool.ipip_mode == "Always"
        ):
            return pool
    return None


def pod_pools(pools: tuple[IPPool, ...]) -> tuple[IPPool, ...]:
    """Enabled IPv4 pools: those pod addresses (so the cluster CIDR) come from."""
    return tuple(
        pool
        for pool in pools
        if not pool.disabled and pool.network is not None and pool.network.version == 4
    )


SUBMARINER_CREATES_POOLS = (0, 16)
"""Submariner's route agent creates the remote pools itself from this release on (commit
``d48ecae9``), through ``projectcalico.org/v3`` only, on the active gateway."""
SUBMARINER_POOL_LABEL = "submariner.io/ippool"


@dataclass(frozen=True, slots=True)
class SubmarinerPool:
    """A pool Submariner's route agent creates for a remote Endpoint's subnet
    (``ippool_handler.go``: ``submariner-<clusterID>-<subnet with / as ->``, disabled, no NAT)."""

    name: str
    cidr: str
    cluster_id: str


def submariner_pools(
    endpoints: Sequence[KubeObject], local_id: str | None
) -> tuple[SubmarinerPool, ...]:
    """The pools Submariner (0.16.0 on) creates for the remote Endpoints' IPv4 subnets."""
    found: dict[str, SubmarinerPool] = {}
    for endpoint in endpoints:
        spec = objects.spec(endpoint)
        cluster_id = str(spec.get("cluster_id") or "")
        if not cluster_id or cluster_id == local_id:
            continue
        for subnet in spec.get("subnets") or []:
            network = parse_network(str(subnet))
            if network is None or network.version != 4:
                continue
            name = f"submariner-{cluster_id}-{str(subnet).replace('/', '-')}"
            found.setdefault(name, SubmarinerPool(name, str(subnet), cluster_id))
    return tuple(found[name] for name in sorted(found))


def masquerading_pools(pools: Sequence[IPPool], pod_cidrs: Sequence[str]) -> tuple[IPPool, ...]:
    """Pools whose sources Felix masquerades (``natOutgoing: true``, disabled or not: Felix's
    ``masq-ipam-pools`` ipset takes every such pool), those overlapping the local pod CIDRs
    first. Any such pool counts: the declared clusterCIDR may be wrong (GD003)."""
    nat = [pool for pool in pools if pool.nat_outgoing and pool.network is not None]
    local = [p for p in nat if any(overlaps(p.cidr, cidr) for cidr in pod_cidrs)]
    return tuple(local + [p for p in nat if p not in local])
