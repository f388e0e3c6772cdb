"""The facts of every cluster that place a machine among them, computed once per run.

From the clusters: the gateway nodes and their InternalIPs, the global CIDRs (the broker's
range and each cluster's), the exported services and their global IPs, the external DNS
service's global IP. The engine uses them to decide which route lookups and probes to make;
host checks and host fixes get the same ``ClusterFacts`` object (``HostSituation.facts``), so
they never disagree with the engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import covers, first_address, is_cidr
from globalnet_doctor.facts.gateways import is_gateway
from globalnet_doctor.facts.globalnet import (
    SERVICE_REF_LABEL,
    holds_backend_ip,
    holds_service_ip,
)
from globalnet_doctor.facts.submariner import (
    broker_clusters,
    broker_view,
    contexts_by_cluster_id,
    cr_cluster_id,
    submariner_cr,
    submariner_field,
    submariner_reads,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, InputFailed, InputUnavailable, KubeObject

DEFAULT_GLOBAL_RANGE = "242.0.0.0/8"
GLOBALNET_INFO_CONFIGMAP = "submariner-globalnet-info"
CLUSTERSET_DOMAIN = "svc.clusterset.local"


def host_reads(settings: Settings) -> tuple[Read, ...]:
    """Every cluster read the host facts need (the engine adds them when host checks run)."""
    namespace = settings.broker_namespace
    return (
        Read(kinds.NODES),
        *submariner_reads(settings),
        Read(kinds.BROKERS, namespace),
        Read(kinds.SUBMARINER_CLUSTERS, namespace),
        Read(kinds.CONFIGMAPS, namespace, GLOBALNET_INFO_CONFIGMAP),
        Read(kinds.SERVICES),
        Read(kinds.SERVICE_EXPORTS),
        Read(kinds.GLOBAL_INGRESS_IPS),
    )


@dataclass(frozen=True, slots=True)
class NodeAddress:
    context: str
    node: str
    address: str
    """The node's InternalIP."""
    gateway: bool

    def describe(self) -> str:
        role = "gateway node" if self.gateway else "node"
        return f"{role} {self.node} ({self.address}) of {self.context}"


@dataclass(frozen=True, slots=True)
class GlobalCidr:
    cidr: str
    cluster_id: str
    context: str | None
    """The context of that cluster in this run; None when only the broker knows it."""

    @property
    def probe_address(self) -> str:
        return first_address(self.cidr)


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class GlobalService:
    """An exported service (or one backing pod of a headless one) and its global IP."""

    context: str
    cluster_id: str
    namespace: str
    name: str
    global_ip: str | None
    ports: tuple[ServicePort, ...] = ()
    headless: bool = False
    pod: str | None = None
    """For a headless export: the pod (its hostname) this global IP belongs to."""
    ingress_ip: str = ""
    """The name of the GlobalIngressIP that holds the IP."""
    has_selector: bool = True
    """Lighthouse does not answer for a Service without a selector (lighthouse#603): it is
    reached by its global IP only."""

    @property
    def tcp_ports(self) -> tuple[int, ...]:
        return tuple(p.port for p in self.ports if p.protocol.upper() == "TCP")

    def describe(self) -> str:
        what = f"{self.namespace}/{self.name}"
        if self.pod:
            what += f" pod {self.pod}"
        return f"{what} of {self.context}"


@dataclass(frozen=True, slots=True)
class DnsService:
    """The external DNS Service (``--dns-service``) in one cluster, and its global IP."""

    context: str
    namespace: str
    name: str
    global_ip: str | None
    ingress_ip: KubeObject | None = None
    service: KubeObject | None = None


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    nodes: tuple[NodeAddress, ...] = ()
    global_range: str = DEFAULT_GLOBAL_RANGE
    global_range_source: str = "default"
    global_cidrs: tuple[GlobalCidr, ...] = ()
    cluster_cidrs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(context, clusterCIDRs) of every cluster with a readable Submariner CR."""
    services: tuple[GlobalService, ...] = ()
    dns_services: tuple[DnsService, ...] = ()
    global_ips: tuple[tuple[str, str], ...] = ()
    """(allocated IP, "namespace/name of context") of every GlobalIngressIP."""
    unavailable: tuple[str, ...] = ()
    """Reads that had no answer, with the reason (``member2: forbidden: list nodes``)."""

    @property
    def gateway_nodes(self) -> tuple[NodeAddress, ...]:
        return tuple(n for n in self.nodes if n.gateway)

    def node_at(self, ip: str) -> NodeAddress | None:
        """The node whose InternalIP is ``ip``, gateways first."""
        matching = [n for n in self.nodes if n.address == ip]
        return next((n for n in matching if n.gateway), matching[0] if matching else None)

    def holder_of(self, ip: str) -> str | None:
        """What holds the global IP ``ip`` now, when a GlobalIngressIP does."""
        return next((what for held, what in self.global_ips if held == ip), None)

    def in_global_space(self, ip: str) -> bool:
        """Whether ``ip`` lies in the broker's range or in any cluster's global CIDR."""
        cidrs = [self.global_range, *(c.cidr for c in self.global_cidrs)]
        return any(covers(cidr, ip) for cidr in cidrs)

    def range_probe_address(self) -> str:
        return first_address(self.global_range)

    def lookup_addresses(self) -> list[str]:
        """Every IP whose route the host checks judge: the gateway nodes, the global range and
        each global CIDR, the DNS service's and every exported service's global IP."""
        wanted = [n.address for n in self.gateway_nodes]
        wanted.append(self.range_probe_address())
        wanted += [c.probe_address for c in self.global_cidrs]
        wanted += [d.global_ip for d in self.dns_services if d.global_ip]
        wanted += [s.global_ip for s in self.services if s.global_ip]
        return [ip for ip in dict.fromkeys(wanted) if ip]


def _try_list(
    view: ClusterView, kind: kinds.Kind, unavailable: list[str], namespace: str | None = None
) -> Sequence[KubeObject]:
    try:
        return view.list(kind, namespace)
    except (InputUnavailable, InputFailed) as exc:
        unavailable.append(f"{view.name}: {getattr(exc, 'reason', None) or exc}")
        return ()


def _internal_ips(node: KubeObject) -> list[str]:
    return [
        str(a.get("address"))
        for a in objects.status(node).get("addresses") or []
        if a.get("type") == "InternalIP" and a.get("address")
    ]


def cluster_facts(clusters: Sequence[ClusterView], settings: Settings) -> ClusterFacts:
    """The host-relevant facts of every readable cluster; a read without an answer is noted
    and leaves its part empty, never raises."""
    unavailable: list[str] = []
    nodes: list[NodeAddress] = []
    global_cidrs: list[GlobalCidr] = []
    cluster_cidrs: list[tuple[str, tuple[str, ...]]] = []
    services: list[GlobalService] = []
    global_ips: list[tuple[str, str]] = []
    readable = [v for v in clusters if v.reachable]
    for view in readable:
        for node in _try_list(view, kinds.NODES, unavailable):
            for ip in _internal_ips(node):
                nodes.append(
                    NodeAddress(view.name, str(node["metadata"]["name"]), ip, is_gateway(node))
                )
        cr = _submariner(view, settings, unavailable)
        cid = (cr_cluster_id(cr) if cr is not None else None) or view.name
        if cr is not None:
            for cidr in submariner_field(cr, "globalCIDR"):
                if is_cidr(cidr):
                    global_cidrs.append(GlobalCidr(cidr, cid, view.name))
            cluster_cidrs.append((view.name, submariner_field(cr, "clusterCIDR")))
        exported, held = _exported_services(view, cid, unavailable)
        services += exported
        global_ips += held
    global_range, source, broker_cidrs = _broker_ranges(clusters, settings)
    known = {c.cidr for c in global_cidrs}
    by_id = contexts_by_cluster_id(clusters, settings)
    for cluster_id, cidr in broker_cidrs:
        if cidr not in known and is_cidr(cidr):
            known.add(cidr)
            global_cidrs.append(GlobalCidr(cidr, cluster_id, by_id.get(cluster_id)))
    return ClusterFacts(
        nodes=tuple(nodes),
        global_range=global_range,
        global_range_source=source,
        global_cidrs=tuple(global_cidrs),
        cluster_cidrs=tuple(cluster_cidrs),
        services=tuple(services),
        dns_services=tuple(_dns_services(readable, settings)),
        global_ips=tuple(global_ips),
        unavailable=tuple(dict.fromkeys(unavailable)),
    )


def _submariner(view: ClusterView, settings: Settings, unavailable: list[str]) -> KubeObject | None:
    try:
        return submariner_cr(view, settings)
    except (InputUnavailable, InputFailed) as exc:
        unavailable.append(f"{view.name}: {getattr(exc, 'reason', None) or exc}")
        return None


def _broker_ranges(
    clusters: Sequence[ClusterView], settings: Settings
) -> tuple[str, str, list[tuple[str, str]]]:
    """The broker's global range (Broker CR, else the submariner-globalnet-info ConfigMap,
    else Submariner's default) and the global CIDR of each cluster the broker knows."""
    broker = broker_view(clusters, settings)
    if broker is None or not broker.reachable:
        return DEFAULT_GLOBAL_RANGE, "default (no broker in this run)", []
    namespace = settings.broker_namespace
    cidrs: list[tuple[str, str]] = []
    global_range: str | None = None
    source = ""
    try:
        for obj in broker.list(kinds.BROKERS, namespace):
            value = objects.spec(obj).get("globalnetCIDRRange")
            if value and global_range is None:
                global_range = str(value)
                source = f"Broker {namespace}/{obj['metadata']['name']} in {broker.name}"
        for cluster in broker_clusters(broker, settings).values():
            cidrs += [(cluster.cluster_id, c) for c in cluster.global_cidrs]
    except (InputUnavailable, InputFailed):
        pass
    try:
        info = broker.get(kinds.CONFIGMAPS, GLOBALNET_INFO_CONFIGMAP, namespace)
    except (InputUnavailable, InputFailed):
        info = None
    data = objects.data(info)
    if global_range is None and data.get("globalnetCidrRange"):
        global_range = _json_or_text(data["globalnetCidrRange"])
        source = f"ConfigMap {namespace}/{GLOBALNET_INFO_CONFIGMAP} in {broker.name}"
    try:
        for entry in json.loads(data.get("clusterinfo") or "[]"):
            for cidr in entry.get("global_cidr") or []:
                cidrs.append((str(entry.get("cluster_id")), str(cidr)))
    except (ValueError, AttributeError, TypeError):
        pass
    if global_range is None:
        return DEFAULT_GLOBAL_RANGE, f"default (the broker in {broker.name} sets none)", cidrs
    if not is_cidr(global_range):
        return DEFAULT_GLOBAL_RANGE, f"default ({source} holds no CIDR: {global_range!r})", cidrs
    return global_range, source, cidrs


def _json_or_text(value: str) -> str:
    try:
        decoded = json.loads(value)
    except ValueError:
        return value.strip()
    return str(decoded).strip()


def _ports(service: KubeObject) -> tuple[ServicePort, ...]:
    return tuple(
        ServicePort(int(p["port"]), str(p.get("protocol") or "TCP"))
        for p in objects.spec(service).get("ports") or []
        if isinstance(p.get("port"), int)
    )


def _exported_services(
    view: ClusterView, cluster_id: str, unavailable: list[str]
) -> tuple[list[GlobalService], list[tuple[str, str]]]:
    exports = _try_list(view, kinds.SERVICE_EXPORTS, unavailable)
    ingress_ips = _try_list(view, kinds.GLOBAL_INGRESS_IPS, unavailable)
    held = [
        (str(ip), f"GlobalIngressIP {objects.namespaced_name(obj)} of {view.name}")
        for obj in ingress_ips
        if (ip := objects.status(obj).get("allocatedIP"))
    ]
    if not exports:
        return [], held
    service_list = _try_list(view, kinds.SERVICES, unavailable)
    by_name = {objects.namespaced_name(s): s for s in service_list}
    # GlobalIngressIPs by the (namespace, service) they may belong to, so matching stays linear.
    candidates: dict[tuple[str, str], list[KubeObject]] = {}
    for giip in ingress_ips:
        giip_namespace = str(giip["metadata"].get("namespace"))
        refs = {
            (objects.spec(giip).get("serviceRef") or {}).get("name"),
            objects.labels(giip).get(SERVICE_REF_LABEL),
        }
        for ref in refs - {None}:
            candidates.setdefault((giip_namespace, str(ref)), []).append(giip)
    found: list[GlobalService] = []
    for export in exports:
        namespace = str(export["metadata"].get("namespace"))
        name = str(export["metadata"]["name"])
        service = by_name.get(f"{namespace}/{name}")
        if service is None:
            continue
        ports = _ports(service)
        headless = objects.spec(service).get("clusterIP") == "None"
        has_selector = bool(objects.spec(service).get("selector"))
        holds = holds_backend_ip if headless else holds_service_ip
        for giip in candidates.get((namespace, name), []):
            if not holds(giip, name):
                continue
            pod = (objects.spec(giip).get("podRef") or {}).get("name") if headless else None
            ip = objects.status(giip).get("allocatedIP") or None
            found.append(
                GlobalService(
                    context=view.name,
                    cluster_id=cluster_id,
                    namespace=namespace,
                    name=name,
                    global_ip=str(ip) if ip else None,
                    ports=ports,
                    headless=headless,
                    pod=str(pod) if pod else None,
                    ingress_ip=str(giip["metadata"]["name"]),
                    has_selector=has_selector,
                )
            )
    return found, held


def split_dns_service(value: str) -> tuple[str | None, str, str]:
    """``[CONTEXT/]NAMESPACE/NAME`` of ``--dns-service``."""
    parts = value.split("/")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return None, parts[0], parts[1]
    return None, "", value


def _dns_services(clusters: Sequence[ClusterView], settings: Settings) -> list[DnsService]:
    context, namespace, name = split_dns_service(settings.dns_service)
    found: list[DnsService] = []
    for view in clusters:
        if context is not None and view.name != context:
            continue
        try:
            service = view.get(kinds.SERVICES, name, namespace)
            ingress_ips = view.list(kinds.GLOBAL_INGRESS_IPS, namespace)
        except (InputUnavailable, InputFailed):
            continue
        if service is None:
            continue
        giip = next((g for g in ingress_ips if holds_service_ip(g, name)), None)
        ip = objects.status(giip).get("allocatedIP") or None
        found.append(DnsService(view.name, namespace, name, str(ip) if ip else None, giip, service))
    return found


def clusterset_names(service: GlobalService) -> list[str]:
    """The names Lighthouse answers with this global IP: ``<svc>.<ns>.svc.clusterset.local``;
    for a headless export's pod also ``<cluster>.<svc>...`` and ``<pod>.<cluster>.<svc>...``;
    none for a Service without a selector (lighthouse#603)."""
    if not service.has_selector:
        return []
    base = f"{service.name}.{service.namespace}.{CLUSTERSET_DOMAIN}"
    if not service.headless:
        return [base]
    names = [base, f"{service.cluster_id}.{base}"]
    if service.pod:
        names.append(f"{service.pod}.{service.cluster_id}.{base}")
    return names


def expected_answers(cluster_facts: ClusterFacts) -> dict[str, tuple[str, ...]]:
    """clusterset name -> the global IPs a correct answer may hold (any of them, for a
    ClusterIP service exported from several clusters)."""
    expected: dict[str, list[str]] = {}
    for service in cluster_facts.services:
        if service.global_ip is None:
            continue
        for name in clusterset_names(service):
            expected.setdefault(name, []).append(service.global_ip)
    return {name: tuple(dict.fromkeys(ips)) for name, ips in expected.items()}
