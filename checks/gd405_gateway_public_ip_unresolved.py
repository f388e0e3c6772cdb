"""GD405: the gateway cannot determine its public IP (no Internet for the ``api:`` resolvers, a
load balancer without an ingress address), so it never starts or publishes an empty one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import active_gateway, objects, public_ip, submariner
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import KubeObject


class GatewayPublicIpUnresolved(Check):
    id = "GD405"
    name = "gateway-public-ip-unresolved"
    title = "Every gateway can determine its public IP"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "cluster"})
    explains = frozenset({"GD001", "GD403"})
    fix = "GD405"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            Read(kinds.NODES),
            *active_gateway.gateway_pod_reads(settings),
            *public_ip.load_balancer_reads(settings),
            *submariner.broker_reads(settings),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        cr = require_submariner(view, settings)
        endpoints = active_gateway.own_broker_endpoints(ctx.clusters, settings, cr)
        published = (
            "the broker has no Endpoint of this cluster"
            if endpoints is not None
            else "no broker Endpoint of this cluster could be read"
        )
        for found in public_ip.unresolved_gateways(view, settings, cr, endpoints or ()):
            yield self.finding(
                f"gateway pod {objects.name(found.pod)} on node {found.node_name} crash-loops, "
                f"the node has no {public_ip.PUBLIC_IP} and {published}: the gateway most "
                'likely cannot resolve its public IP ("could not determine public IP")',
                resources=[ref(view.name, kinds.PODS, found.pod)]
                + ([ref(view.name, kinds.NODES, found.node)] if found.node is not None else []),
                evidence={
                    "pod": objects.name(found.pod),
                    "node": found.node_name,
                    "restartCount": found.container.get("restartCount", 0),
                    "state": found.container.get("state") or {},
                    "lastState": found.container.get("lastState") or {},
                    "airGappedDeployment": False,
                    "brokerEndpoints": 0 if endpoints is not None else "unknown",
                },
                remedy=(
                    f"Check the pod's log (kubectl -n {settings.submariner_namespace} logs "
                    f'{objects.name(found.pod)} --previous) for "Unable to resolve public IP by '
                    'any of the resolver methods". Name the address instead: kubectl annotate '
                    f"node {found.node_name} {public_ip.PUBLIC_IP}=ipv4:<IP> (gdoctor fix GD405), "
                    "or set airGappedDeployment in an environment without Internet egress."
                ),
                severity=Severity.WARNING,
            )
        yield from self._load_balancer(ctx, cr)
        yield from self._air_gapped_nat(ctx, cr, endpoints or ())

    def _load_balancer(self, ctx: CheckContext, cr: KubeObject) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        if objects.spec(cr).get("loadBalancerEnabled") is not True:
            return
        service = view.get(
            kinds.SERVICES, public_ip.LOAD_BALANCER_SERVICE, settings.submariner_namespace
        )
        where = f"{settings.submariner_namespace}/{public_ip.LOAD_BALANCER_SERVICE}"
        if service is None:
            yield self.finding(
                f"loadBalancerEnabled is set but the Service {where} does not exist: the lb: "
                "resolver has no address to give the gateway",
                resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                evidence={"service": where, "exists": False},
                remedy="Let the Submariner operator reconcile (it creates the Service); look at "
                "its log if it does not.",
            )
            return
        ingress = objects.section(objects.status(service), "loadBalancer").get("ingress") or []
        if not any(isinstance(i, dict) and (i.get("ip") or i.get("hostname")) for i in ingress):
            yield self.finding(
                f"loadBalancerEnabled is set but the Service {where} has no "
                "status.loadBalancer.ingress: the gateway waits for it, then fails to resolve "
                "its public IP",
                resources=[ref(view.name, kinds.SERVICES, service)],
                evidence={
                    "service": where,
                    "type": objects.spec(service).get("type"),
                    "ingress": list(ingress),
                },
                remedy="Provide a load balancer implementation for the cluster (cloud provider, "
                "MetalLB), or turn loadBalancerEnabled off and annotate the gateway node with "
                f"{public_ip.PUBLIC_IP}=ipv4:<IP>.",
            )

    def _air_gapped_nat(
        self, ctx: CheckContext, cr: KubeObject, endpoints: Sequence[KubeObject]
    ) -> Iterable[Finding]:
        if not public_ip.air_gapped(cr):
            return
        broker = submariner.broker_view(ctx.clusters, ctx.settings)
        for endpoint in endpoints:
            spec = objects.spec(endpoint)
            if spec.get("nat_enabled") is True and not spec.get("public_ip"):
                yield self.finding(
                    f"air-gapped deployment with NAT traversal on and Endpoint "
                    f"{objects.name(endpoint)} publishes an empty public IP: peers that fall back "
                    "to the legacy NAT settings dial an empty address",
                    resources=[
                        ref(
                            broker.name if broker else ctx.cluster.name,
                            kinds.SUBMARINER_ENDPOINTS,
                            endpoint,
                        )
                    ],
                    evidence={
                        "endpoint": objects.name(endpoint),
                        "public_ip": "",
                        "nat_enabled": True,
                        "airGappedDeployment": True,
                    },
                    remedy=f"Annotate the gateway node with {public_ip.PUBLIC_IP}=ipv4:<IP>, or "
                    "turn NAT traversal off (natEnabled: false) when the clusters reach each "
                    "other's private IPs.",
                    severity=Severity.WARNING,
                )
