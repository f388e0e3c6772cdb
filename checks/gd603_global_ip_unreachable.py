"""GD603: the exported services' global IPs are unreachable from the external host.

A probe: a TCP connect to each TCP port of the Service at its global IP, and an ICMP echo
(scapy) to the global IP. A connect that fails, or an answer from a source other than the global
IP (an ICMP error from a router or node on the way), is a finding; the ICMP answer tells a
closed port (the IP answers) from a path that goes nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.clusterset import ClusterFacts, GlobalService
from globalnet_doctor.host_check import (
    HostCheck,
    facts_of,
    require_host,
    require_probes,
    route_taken,
    service_ref,
)
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import (
    HostProbe,
    HostRole,
    IcmpAnswer,
    IcmpEcho,
    IcmpOutcome,
    TcpAnswer,
    TcpConnect,
    TcpOutcome,
)
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import CheckContext, NotApplicable
from globalnet_doctor.view import ClusterView

MAX_PORTS = 3
"""TCP ports tried per service: enough to tell a closed port from a dead path."""


def targets(services: Iterable[GlobalService]) -> list[GlobalService]:
    return [s for s in services if s.global_ip]


def _probes(cluster_facts: ClusterFacts) -> list[HostProbe]:
    planned: list[HostProbe] = []
    for service in targets(cluster_facts.services):
        assert service.global_ip is not None
        planned.append(IcmpEcho(service.global_ip))
        planned += [TcpConnect(service.global_ip, p) for p in service.tcp_ports[:MAX_PORTS]]
    return planned


class GlobalIpUnreachable(HostCheck):
    id = "GD603"
    name = "global-ip-unreachable"
    title = "The exported services' global IPs answer from the external host"
    severity = Severity.ERROR
    tags = frozenset({"host", "network", "probe", "globalnet"})
    probes = True
    host_roles = frozenset({HostRole.EXTERNAL})

    @classmethod
    def host_probe_requests(
        cls, host: HostSituation, clusters: Sequence[ClusterView], settings: Settings
    ) -> Sequence[HostProbe]:
        return _probes(host.facts)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        host = require_host(ctx)
        require_probes(ctx, self.id)
        services = targets(facts_of(ctx).services)
        if not services:
            raise NotApplicable("no exported service has a global IP to reach")
        unjudged: list[str] = []
        for service in services:
            ip = service.global_ip
            assert ip is not None
            icmp = host.probe(IcmpEcho(ip))
            assert isinstance(icmp, IcmpAnswer)
            tcp: dict[int, TcpAnswer] = {}
            for port in service.tcp_ports[:MAX_PORTS]:
                answer = host.probe(TcpConnect(ip, port))
                assert isinstance(answer, TcpAnswer)
                tcp[port] = answer
            lookup = host.route_lookups.get(ip)
            evidence: dict[str, Any] = {
                "service": service.describe(),
                "globalIP": ip,
                "route": route_taken(lookup) if lookup is not None else None,
                "icmp": icmp.describe(),
                "tcp": {str(port): answer.describe() for port, answer in tcp.items()},
            }
            problems = _problems(ip, icmp, tcp)
            if problems is None:
                unjudged.append(f"{service.describe()} ({icmp.describe()})")
                continue
            if not problems:
                continue
            yield self.finding(
                f"{service.describe()} at its global IP {ip}: " + "; ".join(problems),
                resources=[service_ref(service)],
                evidence=evidence,
                remedy=_remedy(icmp, tcp),
            )
        if unjudged and len(unjudged) == len(services):
            raise NotApplicable(
                "only ICMP could test these services (they have no TCP port) and it was not "
                "sent: " + "; ".join(unjudged)
            )


def _problems(ip: str, icmp: IcmpAnswer, tcp: dict[int, TcpAnswer]) -> list[str] | None:
    """What went wrong; None when nothing could be judged (no TCP port, ICMP not sent)."""
    problems: list[str] = []
    if icmp.outcome is IcmpOutcome.ERROR:
        problems.append(f"an ICMP {icmp.detail} came back from {icmp.reply_from}, not from {ip}")
    elif icmp.outcome is IcmpOutcome.REPLY and icmp.reply_from != ip:
        problems.append(f"the echo reply came from {icmp.reply_from}, not from {ip}")
    failed = {port: a for port, a in tcp.items() if a.outcome is not TcpOutcome.CONNECTED}
    answers_ping = icmp.outcome is IcmpOutcome.REPLY and icmp.reply_from == ip
    for port, answer in failed.items():
        if answer.outcome is TcpOutcome.REFUSED and answers_ping:
            problems.append(
                f"it answers ping but TCP port {port} is refused: nothing serves the port "
                "behind the global IP"
            )
        elif answer.outcome is TcpOutcome.REFUSED:
            problems.append(f"TCP port {port} is refused")
        else:
            problems.append(f"TCP port {port}: {answer.describe()}")
    if not tcp:
        if icmp.outcome is IcmpOutcome.TIMEOUT:
            problems.append(f"no echo reply ({icmp.detail})")
        elif icmp.outcome in (IcmpOutcome.NOT_SENT, IcmpOutcome.FAILED):
            return None
    elif failed and icmp.outcome is IcmpOutcome.TIMEOUT:
        problems.append("no echo reply either")
    return problems


def _remedy(icmp: IcmpAnswer, tcp: dict[int, TcpAnswer]) -> str:
    refused = any(a.outcome is TcpOutcome.REFUSED for a in tcp.values())
    if refused and icmp.outcome is IcmpOutcome.REPLY:
        return (
            "The path works; the service does not: check its endpoints and ports and the "
            "Globalnet internal Service that carries the global IP (GD302, GD303)."
        )
    return (
        "Follow the path: the route to the global CIDR must go through a gateway node of this "
        "machine's cluster (GD602), rp_filter must not be strict here or on the gateway (GD601), "
        "the gateways must be connected (GD402, GD403) and the service must have its global IP "
        "(GD302)."
    )
