"""GD507: kube-dns (GKE) sends clusterset.local to Lighthouse through ``stubDomains``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.dns import (
    COREDNS_NAMESPACE,
    KUBE_DNS_CONFIGMAP,
    LIGHTHOUSE_MISSING_REMEDY,
    STUB_DOMAINS_KEY,
    kube_dns_deployment,
    lighthouse_cluster_ip,
    lighthouse_domains,
    lighthouse_missing,
    require_service_discovery,
    service_discovery_reads,
    stub_domains,
    stub_domains_problems,
    wrong_forwards_text,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref


class KubednsClustersetStubMissing(Check):
    id = "GD507"
    name = "kubedns-clusterset-stub-missing"
    title = "kube-dns sends clusterset.local to the Lighthouse CoreDNS Service (stubDomains)"
    severity = Severity.ERROR
    tags = frozenset({"dns", "cluster"})
    explains = frozenset({"GD503"})
    fix = "GD507"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *service_discovery_reads(settings),
            Read(kinds.DEPLOYMENTS, COREDNS_NAMESPACE),
            Read(kinds.CONFIGMAPS, COREDNS_NAMESPACE),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        discovery = require_service_discovery(view, settings)
        deployment = kube_dns_deployment(view)
        if deployment is None:
            raise NotApplicable(
                f"the cluster DNS is not kube-dns (no Deployment {COREDNS_NAMESPACE}/kube-dns "
                "with a kubedns container)"
            )
        configmap = view.get(kinds.CONFIGMAPS, KUBE_DNS_CONFIGMAP, COREDNS_NAMESPACE)
        expected = lighthouse_cluster_ip(view, settings)
        domains = lighthouse_domains(discovery)
        stubs = stub_domains(configmap)
        where = f"{COREDNS_NAMESPACE}/{KUBE_DNS_CONFIGMAP}"
        resources = [ref(view.name, kinds.DEPLOYMENTS, deployment)]
        if configmap is not None:
            resources.append(ref(view.name, kinds.CONFIGMAPS, configmap))
        evidence: dict[str, object] = {
            "configMap": where,
            "configMapExists": configmap is not None,
            "stubDomains": stubs,
            "domains": domains,
            "lighthouseClusterIP": expected,
        }
        if expected is None:
            yield self.finding(
                lighthouse_missing(settings),
                resources=resources,
                evidence=evidence,
                remedy=LIGHTHOUSE_MISSING_REMEDY,
            )
            return
        if stubs is None:
            yield self.finding(
                f"{where} key {STUB_DOMAINS_KEY} is not a JSON object of nameserver lists: "
                "kube-dns ignores it and clusterset names do not resolve",
                resources=resources,
                evidence=evidence,
                remedy=f"Repair {STUB_DOMAINS_KEY} so that it maps "
                f'"clusterset.local" to ["{expected}"].',
            )
            return
        problems = stub_domains_problems(stubs, domains, expected)
        if not problems:
            return
        evidence["wrong"] = problems
        yield self.finding(
            f"kube-dns is the cluster DNS and {where} "
            + (
                wrong_forwards_text(problems, "stub domain", "sends")
                if configmap is not None
                else "does not exist"
            )
            + f", but the Lighthouse CoreDNS Service's clusterIP is {expected}",
            resources=resources,
            evidence=evidence,
            remedy=f'Map each of {", ".join(domains)} to ["{expected}"] in {where} '
            f"{STUB_DOMAINS_KEY} (gdoctor fix GD507); kube-dns reloads it without a restart.",
        )
