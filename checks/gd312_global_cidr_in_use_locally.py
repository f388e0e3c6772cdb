"""GD312: addresses actually in use in the cluster (pods, Services, load balancers, enabled
Calico pools, node podCIDRs, Submariner's own VTEP ranges) inside a global CIDR, so traffic for
those global IPs goes to the local object instead of through Globalnet.

GD304 compares the declared CIDRs (cluster, service, global) and node addresses; an address
inside a declared CIDR that GD304 already finds overlapping the same global CIDR is left to it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import calico, objects, submariner
from globalnet_doctor.facts.cidrs import Network, covers, overlaps, parse_network
from globalnet_doctor.facts.global_ranges import (
    INTRA_CLUSTER_VTEPS,
    OVN_KUBERNETES,
    VXLAN_CABLE_VTEPS,
    GlobalRange,
    global_ranges,
    network_plugin,
    uses_vxlan_cable,
)
from globalnet_doctor.facts.globalnet import INTERNAL_SERVICE_LABEL
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject, NotApplicable

_SHOWN = 10
_Use = tuple[Kind, KubeObject, str, str]
"""(kind, object, address, what: "pod IP", "clusterIP", ...)."""


def _ip(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        return None


def _pod_uses(view: ClusterView) -> Iterable[_Use]:
    for pod in view.list(kinds.PODS):
        if objects.spec(pod).get("hostNetwork") is True:
            continue  # a node address: GD304 compares those
        status = objects.status(pod)
        ips = [str(e.get("ip")) for e in status.get("podIPs") or [] if isinstance(e, Mapping)]
        for ip in dict.fromkeys(ips or [str(status.get("podIP") or "")]):
            if ip:
                yield (kinds.PODS, pod, ip, "pod IP")


def _service_uses(view: ClusterView) -> Iterable[_Use]:
    for service in view.list(kinds.SERVICES):
        spec = objects.spec(service)
        cluster_ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
        for ip in dict.fromkeys(str(i) for i in cluster_ips if i and i != "None"):
            yield (kinds.SERVICES, service, ip, "clusterIP")
        if INTERNAL_SERVICE_LABEL not in objects.labels(service):
            for ip in spec.get("externalIPs") or []:
                yield (kinds.SERVICES, service, str(ip), "externalIP")
        balancer = objects.section(objects.status(service), "loadBalancer")
        for entry in balancer.get("ingress") or []:
            if isinstance(entry, Mapping) and entry.get("ip"):
                yield (kinds.SERVICES, service, str(entry["ip"]), "load balancer ingress IP")


class GlobalCidrInUseLocally(Check):
    id = "GD312"
    name = "global-cidr-in-use-locally"
    title = "No address in use in the cluster lies inside a global CIDR"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "cidr", "cluster"})
    explains = frozenset({"GD402", "GD603"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *submariner.broker_reads(settings),
            Read(kinds.NODES),
            Read(kinds.PODS),
            Read(kinds.SERVICES),
            *calico.POOL_READS,
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        cr = require_submariner(view, settings)
        ranges = global_ranges(view, ctx.clusters, settings, cr)
        if not ranges:
            raise NotApplicable("no cluster of the cluster set uses Globalnet (no global CIDR)")
        declared = [
            n
            for field in ("clusterCIDR", "serviceCIDR")
            for n in (parse_network(c) for c in submariner.submariner_field(cr, field))
            if n is not None
        ]
        yield from self._addresses(view, ranges, declared)
        yield from self._vteps(ctx, cr, ranges)
        yield from self._pools(view, ranges)
        yield from self._pod_cidrs(view, ranges, declared)

    def _addresses(
        self, view: ClusterView, ranges: Sequence[GlobalRange], declared: Sequence[Network]
    ) -> Iterable[Finding]:
        inside: dict[str, list[_Use]] = {}
        for use in (*_pod_uses(view), *_service_uses(view)):
            address = _ip(use[2])
            if address is None:
                continue
            for rng in ranges:
                if address.version != rng.network.version or address not in rng.network:
                    continue
                if any(
                    address in d and d.overlaps(rng.network)
                    for d in declared
                    if d.version == address.version
                ):
                    continue  # GD304 reports the declared CIDR overlapping this global CIDR
                inside.setdefault(rng.cidr, []).append(use)
        for rng in ranges:
            uses = inside.get(rng.cidr)
            if not uses:
                continue
            shown = [
                {
                    "kind": kind.kind,
                    "object": objects.namespaced_name(obj),
                    "address": address,
                    "what": what,
                }
                for kind, obj, address, what in uses[:_SHOWN]
            ]
            first = shown[0]
            yield self.finding(
                f"{len(uses)} address(es) in use here lie inside {self._whose(rng)} global CIDR "
                f"{rng.cidr} (first: {first['kind']} {first['object']} {first['what']} "
                f"{first['address']}): traffic for those global IPs stays in this cluster",
                resources=[ref(view.name, kind, obj) for kind, obj, _, _ in uses[:_SHOWN]],
                evidence={
                    "globalCIDR": rng.cidr,
                    "owner": rng.owner,
                    "count": len(uses),
                    "addresses": shown,
                },
                remedy=(
                    "Give the cluster set global CIDRs outside every cluster's pod, Service, "
                    "load balancer and node ranges (subctl deploy-broker --globalnet-cidr-range, "
                    "subctl join --globalnet-cidr); or move the objects' addresses out of it."
                ),
            )

    @staticmethod
    def _whose(rng: GlobalRange) -> str:
        return "this cluster's" if rng.local else f"{rng.owner}'s"

    def _vteps(
        self, ctx: CheckContext, cr: KubeObject, ranges: Sequence[GlobalRange]
    ) -> Iterable[Finding]:
        reserved: list[tuple[str, str]] = []
        if network_plugin(cr) != OVN_KUBERNETES:
            reserved.append((INTRA_CLUSTER_VTEPS, "the route agent's vx-submariner VTEPs"))
        endpoints: Sequence[KubeObject] = ()
        broker = submariner.broker_view(ctx.clusters, ctx.settings)
        if broker is not None and broker.reachable:
            try:
                endpoints = broker.list(kinds.SUBMARINER_ENDPOINTS, ctx.settings.broker_namespace)
            except InputUnavailable:
                endpoints = ()
        if uses_vxlan_cable(cr, endpoints):
            reserved.append((VXLAN_CABLE_VTEPS, "the VXLAN cable driver's VTEPs"))
        for rng in ranges:
            for cidr, what in reserved:
                if overlaps(rng.cidr, cidr):
                    yield self.finding(
                        f"{self._whose(rng)} global CIDR {rng.cidr} overlaps {cidr}, "
                        f"{what}: those global IPs are routed to the VXLAN interface",
                        resources=[ref(ctx.cluster.name, kinds.SUBMARINERS, cr)],
                        evidence={"globalCIDR": rng.cidr, "owner": rng.owner, "reserved": cidr},
                        remedy="Pick global CIDRs outside 240.0.0.0/8 and 241.0.0.0/8 "
                        "(the default global range is 242.0.0.0/8).",
                    )

    def _pools(self, view: ClusterView, ranges: Sequence[GlobalRange]) -> Iterable[Finding]:
        try:
            pools = calico.ip_pools(view).pools
        except InputUnavailable:
            return  # no Calico (or unreadable pools): nothing to compare
        for pool in pools:
            if pool.disabled or pool.network is None:
                continue  # Submariner's own pools for remote CIDRs are disabled
            for rng in ranges:
                if overlaps(pool.cidr, rng.cidr):
                    yield self.finding(
                        f"enabled Calico IPPool {pool.name} ({pool.cidr}) overlaps "
                        f"{self._whose(rng)} global CIDR {rng.cidr}: pods may get global "
                        "addresses",
                        resources=[ref(view.name, pool.kind, pool.obj)],
                        evidence={"pool": pool.name, "cidr": pool.cidr, "globalCIDR": rng.cidr},
                        remedy=f"Disable the pool (spec.disabled: true) or shrink it off "
                        f"{rng.cidr}.",
                    )

    def _pod_cidrs(
        self, view: ClusterView, ranges: Sequence[GlobalRange], declared: Sequence[Network]
    ) -> Iterable[Finding]:
        for node in view.list(kinds.NODES):
            spec: Mapping[str, Any] = objects.spec(node)
            cidrs = spec.get("podCIDRs") or [spec.get("podCIDR")]
            for cidr in dict.fromkeys(str(c) for c in cidrs if c):
                network = parse_network(cidr)
                if network is None:
                    continue
                for rng in ranges:
                    if network.version != rng.network.version:
                        continue
                    if not network.overlaps(rng.network):
                        continue
                    if any(
                        d.version == network.version
                        and covers(str(d), cidr)
                        and d.overlaps(rng.network)
                        for d in declared
                    ):
                        continue  # GD304's
                    yield self.finding(
                        f"node {objects.name(node)}'s podCIDR {cidr} overlaps "
                        f"{self._whose(rng)} global CIDR {rng.cidr}",
                        resources=[ref(view.name, kinds.NODES, node)],
                        evidence={
                            "node": objects.name(node),
                            "podCIDR": cidr,
                            "globalCIDR": rng.cidr,
                        },
                        remedy="The node's pods get addresses inside the global CIDR: pick a "
                        "global CIDR clear of the cluster's pod ranges.",
                        severity=Severity.WARNING,
                    )
