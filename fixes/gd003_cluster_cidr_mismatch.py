"""GD003's fix: set the Submariner CR's clusterCIDR / serviceCIDR to the one CIDR the control
plane names, so the operator re-renders the gateway and route agent with it.

Only a single authoritative CIDR that contains every observed pod (resp. Service) IP is ever
written: with none, or with sources that disagree, there is nothing gdoctor may choose and the
plan is empty (the remedy says how to re-join by hand).
"""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.deployment import CIDR_FIELDS, corrected_cidr
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated
from globalnet_doctor.kinds import Read

OPERATOR_REACTION = (
    "the Submariner operator must copy spec.{fields} to the CR's status and re-render "
    "SUBMARINER_CLUSTERCIDR / SUBMARINER_SERVICECIDR in the submariner-gateway and "
    "submariner-routeagent DaemonSets (their pods restart)"
)


class SetDeclaredCidrs(Fix):
    id = "GD003"
    title = "set the Submariner CR's clusterCIDR / serviceCIDR to the control plane's CIDR"
    safety = Safety.DISRUPTIVE
    # A wrong declared CIDR is behind missing IPPools (GD203) and failing health checks
    # (GD402): it goes first.
    order = 5

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return ()

    def _corrections(self, ctx: FixContext) -> dict[str, str]:
        cr = submariner.require_submariner(ctx.cluster, ctx.settings)
        failing = {str(f.evidence.get("field")) for f in ctx.result.findings}
        return {
            name: cidr
            for name in CIDR_FIELDS
            if name in failing and (cidr := corrected_cidr(ctx.cluster, cr, name)) is not None
        }

    def plan(self, ctx: FixContext) -> list[Step]:
        corrections = self._corrections(ctx)
        if not corrections:
            return []
        cr = submariner.require_submariner(ctx.cluster, ctx.settings)
        spec = dict(objects.spec(cr)) | corrections
        changes = ", ".join(
            f"spec.{name}: {objects.spec(cr).get(name) or '(unset)'} -> {cidr}"
            for name, cidr in corrections.items()
        )
        return [
            KubeChange(
                cluster=ctx.cluster.name,
                kind=kinds.SUBMARINERS,
                namespace=objects.namespace(cr),
                name=objects.name(cr),
                before=cr,
                after=updated(cr, spec=spec),
                why=f"{changes}; the operator then restarts the gateway and route-agent pods "
                "(tunnels are re-established)",
            )
        ]

    def awaiting(self, ctx: FixContext) -> str | None:
        """The check judges the CR's status, which only the operator writes."""
        cr = submariner.submariner_cr(ctx.cluster, ctx.settings)
        if cr is None:
            return None
        fields = [
            name
            for name in CIDR_FIELDS
            if objects.spec(cr).get(name)
            and objects.status(cr).get(name)
            and objects.spec(cr).get(name) != objects.status(cr).get(name)
        ]
        return OPERATOR_REACTION.format(fields="/".join(fields)) if fields else None
