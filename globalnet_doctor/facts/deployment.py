"""How Submariner is deployed: which release each of its workloads runs, and which release the
clusters of the clusterset run (GD004); the networks the Submariner CR declares compared with
what the cluster's pods, Services and nodes show (GD003)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import cidrs, objects
from globalnet_doctor.facts.submariner import submariner_field, submariner_reads
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.view import ClusterView, KubeObject

OPERATOR = "submariner-operator"


@dataclass(frozen=True, slots=True)
class Component:
    """A workload the operator deploys, and the key ``spec.imageOverrides`` names it by."""

    kind: Kind
    name: str
    override_key: str


# The override keys are the operator's component names (operator: pkg/names/names.go); the
# route agent's differs from its DaemonSet's name.
COMPONENTS = (
    Component(kinds.DAEMONSETS, "submariner-gateway", "submariner-gateway"),
    Component(kinds.DAEMONSETS, "submariner-routeagent", "submariner-route-agent"),
    Component(kinds.DAEMONSETS, "submariner-globalnet", "submariner-globalnet"),
    Component(kinds.DEPLOYMENTS, "submariner-lighthouse-agent", "lighthouse-agent"),
    Component(kinds.DEPLOYMENTS, "submariner-lighthouse-coredns", "lighthouse-coredns"),
)
OPERATOR_COMPONENT = Component(kinds.DEPLOYMENTS, OPERATOR, "submariner-operator")

# The Submariner CR's status fields that describe the operator's DaemonSets.
DAEMONSET_STATUS_FIELDS = (
    "gatewayDaemonSetStatus",
    "routeAgentDaemonSetStatus",
    "globalnetDaemonSetStatus",
)

_RELEASE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")

Release = tuple[int, int, int]


def release(text: object) -> Release | None:
    """``0.18.1`` or ``v0.18`` as (major, minor, patch); None for anything that is not a plain
    release number (``devel``, ``release-0.18-abc``, a digest), which is never compared."""
    match = _RELEASE.match(str(text or "").strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def release_text(version: Release) -> str:
    return ".".join(str(part) for part in version)


def image_tag(image: str) -> str | None:
    """The tag of an image reference; None when it has none or is pinned by digest only."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    _, colon, tag = last.partition(":")
    return tag if colon and tag else None


def container_images(workload: KubeObject | None) -> tuple[str, ...]:
    """The images of a workload's pod template containers (init containers excluded)."""
    containers = objects.pod_template_spec(workload).get("containers") or []
    return tuple(str(c.get("image") or "") for c in containers if isinstance(c, Mapping))


def spec_release(cr: KubeObject) -> Release | None:
    """The release the Submariner CR asks for (``spec.version``)."""
    return release(objects.spec(cr).get("version"))


def overridden_components(cr: KubeObject) -> frozenset[str]:
    """The component keys of ``spec.imageOverrides``: their images are the site's choice."""
    overrides = objects.spec(cr).get("imageOverrides")
    return frozenset(str(k) for k in overrides) if isinstance(overrides, Mapping) else frozenset()


def mismatched_images(cr: KubeObject) -> tuple[str, ...]:
    """The CR status fields whose DaemonSet runs pods of different image digests."""
    status = objects.status(cr)
    return tuple(
        field
        for field in DAEMONSET_STATUS_FIELDS
        if objects.section(status, field).get("mismatchedContainerImages") is True
    )


# -- networks ------------------------------------------------------------------------------

_LIVE_PHASES = frozenset({"Running", "Pending"})


def declared_cidrs(cr: KubeObject, field_name: str) -> tuple[str, ...]:
    """``clusterCIDR`` or ``serviceCIDR`` as Submariner uses it (status, else spec)."""
    return submariner_field(cr, field_name)


def pod_ipv4(pod: KubeObject) -> str | None:
    """The primary IPv4 address of a live pod on the pod network; None for host-network pods,
    finished pods, pods without an address and IPv6 addresses."""
    if objects.spec(pod).get("hostNetwork") is True:
        return None
    status = objects.status(pod)
    if status.get("phase") not in _LIVE_PHASES:
        return None
    ips = status.get("podIPs") or []
    first = ips[0].get("ip") if ips and isinstance(ips[0], Mapping) else status.get("podIP")
    network = cidrs.parse_network(first)
    if network is None or network.version != 4 or network.prefixlen != 32:
        return None
    return str(network.network_address)


def service_ipv4(service: KubeObject) -> str | None:
    """The IPv4 cluster IP of a Service; None for headless, ExternalName and IPv6 ones."""
    spec = objects.spec(service)
    if spec.get("type") == "ExternalName":
        return None
    network = cidrs.parse_network(spec.get("clusterIP"))
    if network is None or network.version != 4 or network.prefixlen != 32:
        return None
    return str(network.network_address)


def outside(
    addresses: Iterable[tuple[KubeObject, str]], declared: Sequence[str]
) -> list[tuple[KubeObject, str]]:
    """The (object, address) pairs whose address lies in none of the ``declared`` CIDRs."""
    return [(obj, ip) for obj, ip in addresses if not cidrs.contains_address(declared, ip)]


def node_pod_cidrs(node: KubeObject) -> tuple[str, ...]:
    """A node's pod CIDRs (``spec.podCIDRs``, else ``spec.podCIDR``)."""
    spec = objects.spec(node)
    listed = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    return tuple(str(c) for c in listed)


def k3s_flag(node: KubeObject, flag: str) -> str | None:
    """A flag's value from the k3s ``k3s.io/node-args`` annotation (a JSON list of words)."""
    import json

    text = objects.annotations_of(node).get("k3s.io/node-args")
    try:
        words = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(words, list):
        return None
    return flag_value([str(w) for w in words], flag)


def flag_value(words: Sequence[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in a command line; the last one wins."""
    value: str | None = None
    for index, word in enumerate(words):
        if word.startswith(flag + "="):
            value = word.split("=", 1)[1]
        elif word == flag and index + 1 < len(words):
            value = words[index + 1]
    return value


# The control-plane pods whose flags name the networks (static pods of kubeadm and the like).
KUBE_APISERVER = "component=kube-apiserver"
KUBE_CONTROLLER_MANAGER = "component=kube-controller-manager"
CLUSTER_CIDR_FLAGS = {"--cluster-cidr"}
SERVICE_CIDR_FLAGS = {"--service-cluster-ip-range", "--service-cidr"}


@dataclass(frozen=True, slots=True)
class NetworkSource:
    """One place that says authoritatively which CIDR the cluster uses."""

    where: str
    """What was read, e.g. ``Node member1 annotation k3s.io/node-args``."""
    cidr: str


def _pod_words(pod: KubeObject) -> list[str]:
    words: list[str] = []
    for container in objects.spec(pod).get("containers") or []:
        if isinstance(container, Mapping):
            for key in ("command", "args"):
                words += [str(w) for w in container.get(key) or []]
    return words


def network_sources(
    nodes: Sequence[KubeObject], pods: Sequence[KubeObject], flags: set[str]
) -> list[NetworkSource]:
    """The values of ``flags`` in the k3s node arguments and in the kube-apiserver and
    kube-controller-manager pods' command lines, each IPv4 CIDR of a dual-stack value apart."""
    found: list[NetworkSource] = []
    for node in nodes:
        for flag in sorted(flags):
            value = k3s_flag(node, flag)
            if value:
                found += _sources(f"Node {objects.name(node)} k3s.io/node-args {flag}", value)
    for pod in pods:
        labels = objects.labels(pod)
        if labels.get("component") not in {"kube-apiserver", "kube-controller-manager"}:
            continue
        words = _pod_words(pod)
        for flag in sorted(flags):
            value = flag_value(words, flag)
            if value:
                found += _sources(f"Pod {objects.namespaced_name(pod)} {flag}", value)
    return found


def _sources(where: str, value: str) -> list[NetworkSource]:
    return [
        NetworkSource(where, str(network))
        for part in value.split(",")
        if (network := cidrs.parse_network(part)) is not None and network.version == 4
    ]


def authoritative_cidr(sources: Sequence[NetworkSource]) -> str | None:
    """The one CIDR every source agrees on; None when there is none or they disagree."""
    values = {s.cidr for s in sources}
    return values.pop() if len(values) == 1 else None


FLAGS_BY_FIELD = {"clusterCIDR": CLUSTER_CIDR_FLAGS, "serviceCIDR": SERVICE_CIDR_FLAGS}
CIDR_FIELDS = tuple(FLAGS_BY_FIELD)


def observed_addresses(view: ClusterView, field_name: str) -> list[tuple[KubeObject, str]]:
    """The live pods' IPs (``clusterCIDR``) or the Services' cluster IPs (``serviceCIDR``)."""
    if field_name == "clusterCIDR":
        return [(p, ip) for p in view.list(kinds.PODS) if (ip := pod_ipv4(p)) is not None]
    return [(s, ip) for s in view.list(kinds.SERVICES) if (ip := service_ipv4(s)) is not None]


def sources_for(view: ClusterView, field_name: str) -> list[NetworkSource]:
    """What the control plane says the CIDR of ``field_name`` is."""
    return network_sources(
        view.list(kinds.NODES), view.list(kinds.PODS), FLAGS_BY_FIELD[field_name]
    )


def corrected_cidr(view: ClusterView, cr: KubeObject, field_name: str) -> str | None:
    """The CIDR GD003's fix may set: the single one every authoritative source names, when it
    covers every observed address and differs from what Submariner uses; else None."""
    wanted = authoritative_cidr(sources_for(view, field_name))
    if wanted is None or list(declared_cidrs(cr, field_name)) == [wanted]:
        return None
    if outside(observed_addresses(view, field_name), [wanted]):
        return None
    return wanted


# -- network discovery (GD002) -------------------------------------------------------------

DISCOVERY_FIXED_IN: Release = (0, 21, 1)
"""Operator release whose discovery reads the ServiceCIDR API (operator PR #3630; the
maintainer in submariner#3634: "will be fixed in v0.21.1")."""
SERVICE_RANGE_UNREPORTED_FROM = (1, 33)
"""Kubernetes release from which a refused Service create no longer names the valid range
(operator#3627); ServiceCIDR went GA there."""
_KUBE_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


def kubernetes_minor(version: str | None) -> tuple[int, int] | None:
    match = _KUBE_VERSION.match(version or "")
    return (int(match[1]), int(match[2])) if match else None


def apiserver_names_service_range(pods: Sequence[KubeObject]) -> bool:
    """Whether a kube-apiserver pod is visible with ``--service-cluster-ip-range``: the
    operator's first way to find the service CIDR (managed clusters and k3s show none)."""
    return any(
        objects.labels(p).get("component") == "kube-apiserver"
        and flag_value(_pod_words(p), "--service-cluster-ip-range") is not None
        for p in pods
    )


def operator_release(operator: KubeObject | None) -> Release | None:
    """The release the operator Deployment's first tagged image names."""
    for image in container_images(operator):
        found = release(image_tag(image))
        if found is not None:
            return found
    return None


def workload_reads(settings: Settings) -> tuple[Read, ...]:
    """The Submariner CR and every DaemonSet and Deployment of the Submariner namespace (one
    LIST each, however many components a release ships)."""
    namespace = settings.submariner_namespace
    return (
        *submariner_reads(settings),
        Read(kinds.DAEMONSETS, namespace),
        Read(kinds.DEPLOYMENTS, namespace),
    )
