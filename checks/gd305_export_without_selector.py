"""GD305: an exported Service without a selector, where the deployed Submariner handles it badly.

- Headless without selector: Globalnet before 0.11 gives its backends no global IP at all
  (submariner#1537, fixed by PR #1558 with ``ep-*`` GlobalIngressIPs).
- Selector-less (headless or ClusterIP): Lighthouse before 0.12 does not resolve it by name
  (lighthouse#603, fixed by lighthouse PR #684): reach it by its global IP.
- Selector-less ClusterIP on Globalnet 0.12+: the internal Service has no selector either, so
  Globalnet clones ``Endpoints/<svc>`` into ``Endpoints/<internal>`` (PR #1695); without that
  clone the global IP leads nowhere (submariner#1693).

On a current release with the clone in place a selector-less export works (the field report's
``default/node`` export of the external host is one), so nothing is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.globalnet import (
    CLONED_FROM_LABEL,
    HEADLESS_WITHOUT_SELECTOR_SUPPORTED,
    INTERNAL_SERVICES,
    SELECTORLESS_RESOLVABLE,
    Export,
    allocated_ip,
    export_reads,
    exports,
    internal_service_name,
    internal_services,
    require_globalnet,
    service_ingress_ip,
)
from globalnet_doctor.facts.submariner import at_least, submariner_version, version_text
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject


def endpoint_shape(endpoints: KubeObject | None) -> tuple[list[str], list[tuple[str, int, str]]]:
    """The addresses and ports of an Endpoints object, order-free, for comparing a clone."""
    addresses: set[str] = set()
    ports: set[tuple[str, int, str]] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        for key in ("addresses", "notReadyAddresses"):
            addresses.update(
                str(a.get("ip")) for a in subset.get(key) or [] if isinstance(a, Mapping)
            )
        for port in subset.get("ports") or []:
            if isinstance(port, Mapping):
                ports.add(
                    (
                        str(port.get("name") or ""),
                        int(port.get("port") or 0),
                        str(port.get("protocol") or "TCP"),
                    )
                )
    return sorted(addresses), sorted(ports)


class ExportWithoutSelector(Check):
    id = "GD305"
    name = "export-without-selector"
    title = "Exported Services without a selector work with the deployed Submariner"
    severity = Severity.WARNING
    tags = frozenset({"globalnet", "service-discovery", "cluster"})
    explains = frozenset({"GD302", "GD503"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*export_reads(settings), Read(kinds.ENDPOINTS))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        cr, _ = require_globalnet(ctx.cluster, ctx.settings)
        version = submariner_version(cr)
        for export in exports(ctx.cluster):
            if not export.cluster_ip_type or export.has_selector:
                continue
            evidence: dict[str, Any] = {
                "export": export.key,
                "selector": None,
                "headless": export.headless,
                "submarinerVersion": version_text(cr),
            }
            if export.headless:
                yield from self._headless(ctx, export, version, evidence)
            else:
                yield from self._cluster_ip(ctx, export, version, evidence)

    def _refs(self, view: ClusterView, export: Export) -> list[Any]:
        found = [ref(view.name, kinds.SERVICE_EXPORTS, export.export)]
        if export.service is not None:
            found.append(ref(view.name, kinds.SERVICES, export.service))
        return found

    def _headless(
        self,
        ctx: CheckContext,
        export: Export,
        version: tuple[int, int] | None,
        evidence: dict[str, Any],
    ) -> Iterable[Finding]:
        if not at_least(version, HEADLESS_WITHOUT_SELECTOR_SUPPORTED):
            yield self.finding(
                f"headless export {export.key} has no selector: Globalnet "
                f"{evidence['submarinerVersion']} gives its backends no global IP "
                "(submariner#1537)",
                resources=self._refs(ctx.cluster, export),
                evidence=evidence,
                remedy="Give the Service a selector, or export a selector-less ClusterIP "
                "Service with manual Endpoints instead and reach it by its global IP (the "
                "field report's workaround); Globalnet 0.11 and later support it (PR #1558).",
            )
        elif not at_least(version, SELECTORLESS_RESOLVABLE):
            yield self.finding(
                f"headless export {export.key} has no selector: Lighthouse "
                f"{evidence['submarinerVersion']} does not resolve it by name (lighthouse#603)",
                resources=self._refs(ctx.cluster, export),
                evidence=evidence,
                remedy="Reach its backends by their global IPs (the ep-* GlobalIngressIPs), or "
                "upgrade Submariner to 0.12 or later (lighthouse PR #684).",
            )

    def _cluster_ip(
        self,
        ctx: CheckContext,
        export: Export,
        version: tuple[int, int] | None,
        evidence: dict[str, Any],
    ) -> Iterable[Finding]:
        view = ctx.cluster
        giip = service_ingress_ip(view, export)
        address = allocated_ip(giip) if giip is not None else ""
        evidence["globalIP"] = address or None
        if not at_least(version, SELECTORLESS_RESOLVABLE):
            yield self.finding(
                f"export {export.key} has no selector: Lighthouse {evidence['submarinerVersion']} "
                "does not resolve it by name from other clusters (lighthouse#603)",
                resources=self._refs(view, export),
                evidence=evidence,
                remedy=f"Reach it by its global IP{' ' + address if address else ''} instead "
                "of its clusterset.local name, or upgrade Submariner to 0.12 or later, whose "
                "Lighthouse resolves selector-less Services (lighthouse PR #684).",
            )
            return
        if not at_least(version, INTERNAL_SERVICES):
            return
        internal = internal_services(view, export)
        if len(internal) != 1:
            return  # no (or several) internal Services: GD302's
        internal_name = objects.name(internal[0])
        clone = view.get(kinds.ENDPOINTS, internal_name, export.namespace)
        source = view.get(kinds.ENDPOINTS, export.name, export.namespace)
        evidence["internalService"] = internal_name
        evidence["endpoints"] = dict(
            zip(("addresses", "ports"), endpoint_shape(source), strict=True)
        )
        if clone is not None:
            evidence["clonedEndpoints"] = dict(
                zip(("addresses", "ports"), endpoint_shape(clone), strict=True)
            )
            evidence["clonedFrom"] = objects.labels(clone).get(CLONED_FROM_LABEL)
        if clone is None:
            problem = (
                f"Globalnet has not cloned Endpoints/{export.name} to Endpoints/{internal_name}: "
                f"its global IP {address or '(none)'} leads nowhere"
            )
        elif endpoint_shape(clone) != endpoint_shape(source):
            problem = (
                f"Endpoints/{internal_name} no longer matches Endpoints/{export.name}: its "
                f"global IP {address or '(none)'} leads to stale backends"
            )
        else:
            return
        resources = [*self._refs(view, export), ref(view.name, kinds.SERVICES, internal[0])]
        if clone is not None:
            resources.append(ref(view.name, kinds.ENDPOINTS, clone))
        yield self.finding(
            f"export {export.key} has no selector and {problem} (submariner#1693)",
            resources=resources,
            evidence=evidence,
            remedy=f"Create (or correct) Endpoints {export.namespace}/"
            f"{internal_service_name(export.name)} with the subsets of Endpoints/{export.name} "
            f"and label {CLONED_FROM_LABEL}={export.name} (the workaround in submariner#1693); "
            "Globalnet's Endpoints controller (PR #1695) keeps it in sync once the globalnet "
            "pod runs.",
        )
