"""GD402's last-resort fix: turn the gateway health check off (what --health-check=false does)."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated


class DisableHealthCheck(Fix):
    id = "GD402"
    title = "disable the gateway health check on the Submariner CR (hides, does not cure)"
    safety = Safety.UNSAFE
    last_resort = True
    order = 90

    def plan(self, ctx: FixContext) -> list[Step]:
        cr = submariner.submariner_cr(ctx.cluster, ctx.settings)
        if cr is None:
            return []
        spec = dict(objects.spec(cr))
        health = dict(spec.get("connectionHealthCheck") or {})
        if health.get("enabled") is False:
            return []
        health["enabled"] = False
        spec["connectionHealthCheck"] = health
        metadata = cr["metadata"]
        return [
            KubeChange(
                ctx.cluster.name,
                kinds.SUBMARINERS,
                metadata["namespace"],
                metadata["name"],
                cr,
                updated(cr, spec=spec),
                "spec.connectionHealthCheck.enabled: false (hides the ping failure; "
                "the root causes stay)",
            )
        ]

    def awaiting(self, ctx: FixContext) -> str | None:
        cr = submariner.submariner_cr(ctx.cluster, ctx.settings)
        health = objects.spec(cr).get("connectionHealthCheck") or {}
        if health.get("enabled") is False:
            return (
                "the Submariner operator must restart the gateway pods without the health "
                "check; then the Gateway's connection status changes"
            )
        return None
