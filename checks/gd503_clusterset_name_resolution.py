"""GD503: clusterset names do not resolve, through the host's resolver, to their global IPs.

A probe: each exported service's ``<svc>.<ns>.svc.clusterset.local`` (and, for a headless
export, ``<cluster>.<svc>...`` and ``<pod>.<cluster>.<svc>...``) is asked of every nameserver of
resolv.conf with dnspython. The verdict follows glibc: the nameservers are tried in order and
the first that answers (NOERROR or NXDOMAIN) decides; a timeout, SERVFAIL or REFUSED moves on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.clusterset import (
    ClusterFacts,
    GlobalService,
    clusterset_names,
    expected_answers,
)
from globalnet_doctor.facts.dns import effective_nameservers
from globalnet_doctor.host_check import (
    HostCheck,
    facts_of,
    require_host,
    require_probes,
    service_ref,
)
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import DnsAnswer, DnsQuery, HostProbe, HostRole, HostView
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import CheckContext, NotApplicable
from globalnet_doctor.view import ClusterView

DECIDING_RCODES = ("NOERROR", "NXDOMAIN")
"""Answers that end glibc's walk through the nameservers."""


def _queries(host: HostView, cluster_facts: ClusterFacts) -> list[DnsQuery]:
    nameservers = effective_nameservers(host.resolv_conf)
    return [
        DnsQuery(name, nameserver)
        for name in expected_answers(cluster_facts)
        for nameserver in nameservers
    ]


def resolver_verdict(
    answers: Sequence[tuple[str, DnsAnswer]],
) -> tuple[str | None, DnsAnswer | None]:
    """(nameserver, answer) that decides, as glibc walks the nameservers; (None, None) when
    none answers."""
    for nameserver, answer in answers:
        if answer.rcode in DECIDING_RCODES:
            return nameserver, answer
    return None, None


class ClustersetNameResolution(HostCheck):
    id = "GD503"
    name = "clusterset-name-resolution"
    title = "Clusterset names resolve, through the host's resolver, to their global IPs"
    severity = Severity.ERROR
    tags = frozenset({"host", "dns", "probe"})
    probes = True
    host_roles = frozenset({HostRole.EXTERNAL})

    @classmethod
    def host_probe_requests(
        cls, host: HostSituation, clusters: Sequence[ClusterView], settings: Settings
    ) -> Sequence[HostProbe]:
        return _queries(host.view, host.facts) if host.view is not None else []

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        host = require_host(ctx)
        require_probes(ctx, self.id)
        resolv = host.resolv_conf
        nameservers = effective_nameservers(resolv)
        if not nameservers:
            raise NotApplicable(f"cannot read {resolv.path}: {resolv.error}")
        cluster_facts = facts_of(ctx)
        expected = expected_answers(cluster_facts)
        if not expected:
            raise NotApplicable("no exported service has a global IP to resolve")
        owners: dict[str, list[GlobalService]] = {}
        for service in cluster_facts.services:
            for name in clusterset_names(service):
                owners.setdefault(name, []).append(service)
        unanswered: dict[str, dict[str, str]] = {}
        for name, wanted in expected.items():
            answers = [
                (ns, answer)
                for ns in nameservers
                if isinstance(answer := host.probe(DnsQuery(name, ns)), DnsAnswer)
            ]
            nameserver, decided = resolver_verdict(answers)
            exporters = owners.get(name, [])
            if decided is None:
                unanswered[name] = {ns: answer.describe() for ns, answer in answers}
                continue
            finding = self._judge(name, wanted, exporters, nameserver, decided, answers)
            if finding is not None:
                yield finding
        if unanswered:
            yield self._unanswered(unanswered, expected, owners, resolv.path)

    def _judge(
        self,
        name: str,
        wanted: Sequence[str],
        exporters: Sequence[GlobalService],
        nameserver: str | None,
        decided: DnsAnswer,
        answers: Sequence[tuple[str, DnsAnswer]],
    ) -> Finding | None:
        evidence: dict[str, Any] = {
            "name": name,
            "expected": list(wanted),
            "answers": {ns: answer.describe() for ns, answer in answers},
            "decidedBy": nameserver,
        }
        should = f"it should answer {', '.join(wanted)} ({_whose(exporters)})"
        if decided.rcode == "NXDOMAIN" or not decided.addresses:
            message = (
                f"{name} does not resolve: {nameserver} answered {decided.describe()}; {should}"
            )
            remedy = (
                f"{nameserver} does not know the clusterset names: it must forward "
                "svc.clusterset.local to the Lighthouse CoreDNS Service (GD502), and the export "
                "must be Ready; when it is not the DNS service, see GD501."
            )
        elif not set(decided.addresses) <= set(wanted):
            outdated = sorted(set(decided.addresses) - set(wanted))
            message = (
                f"{name} resolves to {', '.join(decided.addresses)} through {nameserver}, "
                f"{', '.join(outdated)} being no current global IP of it; {should}"
            )
            remedy = (
                "The DNS answers an outdated global IP: its upstream or cache is stale (GD502; "
                "restart the dnsmasq pods), or the GlobalIngressIP, ServiceImport and "
                "EndpointSlice disagree (GD303)."
            )
        else:
            return None
        return self.finding(message, resources=_refs(exporters), evidence=evidence, remedy=remedy)

    def _unanswered(
        self,
        unanswered: dict[str, dict[str, str]],
        expected: dict[str, tuple[str, ...]],
        owners: dict[str, list[GlobalService]],
        path: str,
    ) -> Finding:
        """One finding for every name no nameserver answered: the resolver, not the names,
        is what fails."""
        names = sorted(unanswered)
        tried = "; ".join(f"{ns}: {text}" for ns, text in unanswered[names[0]].items())
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return self.finding(
            f"no clusterset name resolves ({shown}): no nameserver of {path} answered ({tried})",
            resources=_refs([s for name in names for s in owners.get(name, [])]),
            evidence={
                "names": {name: list(expected[name]) for name in names},
                "answers": unanswered,
                "resolvConf": path,
            },
            remedy=(
                "The nameservers of resolv.conf do not answer from this machine: compare them "
                "with the DNS service's global IP (GD501) and check the route to the global "
                "CIDR (GD602) and its reachability (GD603)."
            ),
        )


def _whose(exporters: Sequence[GlobalService]) -> str:
    described = ", ".join(s.describe() for s in exporters)
    return f"the global IP{'s' if len(exporters) > 1 else ''} of {described}"


def _refs(exporters: Iterable[GlobalService]) -> list[ResourceRef]:
    return list(dict.fromkeys(service_ref(s) for s in exporters))
