"""GD508: OpenShift's DNS operator (or MicroShift's CoreDNS) forwards the Lighthouse domains."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.dns import (
    COREFILE_KEY,
    LIGHTHOUSE_MISSING_REMEDY,
    LIGHTHOUSE_SERVER_NAME,
    MICROSHIFT_DNS_CONFIGMAP,
    MICROSHIFT_DNS_NAMESPACE,
    OPENSHIFT_DNS_NAME,
    corefile_clusterset_forwards,
    lighthouse_cluster_ip,
    lighthouse_domains,
    lighthouse_missing,
    openshift_lighthouse_forwards,
    require_service_discovery,
    service_discovery_reads,
    wrong_forwards_text,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import InputUnavailable

_OPERATOR = f"dns.operator.openshift.io/{OPENSHIFT_DNS_NAME}"
_FORWARD = f"{LIGHTHOUSE_SERVER_NAME} forward"


class OpenshiftDnsLighthouseForward(Check):
    id = "GD508"
    name = "openshift-dns-lighthouse-forward"
    title = "OpenShift's DNS operator forwards the Lighthouse domains to Lighthouse"
    severity = Severity.ERROR
    tags = frozenset({"dns", "cluster", "openshift"})
    explains = frozenset({"GD503"})
    fix = "GD508"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *service_discovery_reads(settings),
            Read(kinds.OPENSHIFT_DNSES, name=OPENSHIFT_DNS_NAME),
            Read(kinds.CONFIGMAPS, MICROSHIFT_DNS_NAMESPACE, MICROSHIFT_DNS_CONFIGMAP),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        discovery = require_service_discovery(view, settings)
        domains = lighthouse_domains(discovery)
        try:
            operator = view.get(kinds.OPENSHIFT_DNSES, OPENSHIFT_DNS_NAME)
            why_not = f"no {_OPERATOR}"
        except InputUnavailable as absent:  # not OpenShift: the CRD is not served
            operator, why_not = None, absent.reason
        expected = lighthouse_cluster_ip(view, settings)
        if operator is not None:
            forwards = openshift_lighthouse_forwards(operator)
            where, resource = _OPERATOR, ref(view.name, kinds.OPENSHIFT_DNSES, operator)
            wrong = {d: forwards.get(d) for d in domains if forwards.get(d) != [expected]}
        else:
            configmap = view.get(
                kinds.CONFIGMAPS, MICROSHIFT_DNS_CONFIGMAP, MICROSHIFT_DNS_NAMESPACE
            )
            if configmap is None:
                raise NotApplicable(
                    f"not OpenShift ({why_not}) nor MicroShift (no ConfigMap "
                    f"{MICROSHIFT_DNS_NAMESPACE}/{MICROSHIFT_DNS_CONFIGMAP})"
                )
            # MicroShift runs no DNS operator: Submariner edits the Corefile as GD504 judges it
            # (the lighthouse block covers clusterset.local).
            corefile = str(objects.data(configmap).get(COREFILE_KEY, ""))
            block = corefile_clusterset_forwards(corefile)
            where = f"ConfigMap {MICROSHIFT_DNS_NAMESPACE}/{MICROSHIFT_DNS_CONFIGMAP}"
            resource = ref(view.name, kinds.CONFIGMAPS, configmap)
            wrong = {} if block == [expected] else {domains[0]: block}
        evidence: dict[str, object] = {
            "dnsConfig": where,
            "domains": domains,
            "lighthouseClusterIP": expected,
            "wrong": wrong,
        }
        if expected is None:
            yield self.finding(
                lighthouse_missing(settings),
                resources=[resource],
                evidence=evidence,
                remedy=LIGHTHOUSE_MISSING_REMEDY,
            )
            return
        if not wrong:
            return
        yield self.finding(
            f"{where} {wrong_forwards_text(wrong, _FORWARD)}, but the Lighthouse CoreDNS "
            f"Service's clusterIP is {expected}",
            resources=[resource],
            evidence=evidence,
            remedy=(
                f"Set one spec.servers entry named {LIGHTHOUSE_SERVER_NAME} per domain "
                f"({', '.join(domains)}) forwarding to {expected} (gdoctor fix GD508); the DNS "
                "operator re-renders CoreDNS."
                if operator is not None
                else f"Rewrite the lighthouse block to `forward . {expected}` (gdoctor fix GD508)."
            ),
        )
