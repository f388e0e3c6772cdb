"""GD310's fix: write the cluster egress IP count as ``spec.numGlobalIPs``.

The count someone wrote as ``numberOfIPs`` (in the stored spec, or only in kubectl's
last-applied annotation) becomes ``spec.numGlobalIPs``; ``numberOfIPs`` leaves the spec and the
annotation (renamed there, so the next ``kubectl apply`` agrees). Disruptive: Globalnet releases
every cluster egress IP and allocates a new contiguous block, so connections from pods without
a GlobalEgressIP are reset and remote allow-lists keyed on the old addresses must change; undo
restores the count, never the former addresses.
"""

from __future__ import annotations

import json

from globalnet_doctor import kinds
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.global_ips import (
    CLUSTER_EGRESS_NAME,
    LAST_APPLIED,
    NUM_GLOBAL_IPS_MAX,
    NUM_GLOBAL_IPS_MIN,
    allocated_ips,
    cluster_egress_count,
    int_field,
    last_applied_spec,
)
from globalnet_doctor.facts.submariner import GLOBALNET
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated


def _intended(cgeip: dict[str, object] | object) -> int | None:
    if not isinstance(cgeip, dict):
        return None
    stored = int_field(objects.spec(cgeip), "numberOfIPs")
    return stored if stored is not None else int_field(last_applied_spec(cgeip), "numberOfIPs")


class WriteNumGlobalIps(Fix):
    id = "GD310"
    title = f"write the cluster egress IP count as numGlobalIPs on {CLUSTER_EGRESS_NAME}"
    safety = Safety.DISRUPTIVE
    order = 60

    def plan(self, ctx: FixContext) -> list[Step]:
        cgeip = ctx.cluster.get(kinds.CLUSTER_GLOBAL_EGRESS_IPS, CLUSTER_EGRESS_NAME)
        if cgeip is None:
            return []
        count = _intended(cgeip)
        if count is None:
            return []
        if not NUM_GLOBAL_IPS_MIN <= count <= NUM_GLOBAL_IPS_MAX:
            raise PlanError(
                f"{CLUSTER_EGRESS_NAME} asks for {count} IPs with numberOfIPs; numGlobalIPs "
                f"takes {NUM_GLOBAL_IPS_MIN}-{NUM_GLOBAL_IPS_MAX}: set it by hand"
            )
        after = updated(cgeip)
        spec = dict(objects.spec(cgeip))
        spec.pop("numberOfIPs", None)
        spec["numGlobalIPs"] = count
        after["spec"] = spec
        applied_text = objects.annotations_of(cgeip).get(LAST_APPLIED)
        if applied_text:
            try:
                applied = json.loads(applied_text)
            except ValueError:
                applied = None
            if isinstance(applied, dict) and isinstance(applied.get("spec"), dict):
                applied_spec = applied["spec"]
                applied_spec.pop("numberOfIPs", None)
                applied_spec["numGlobalIPs"] = count
                annotations = dict(objects.annotations_of(cgeip))
                annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":")) + "\n"
                after["metadata"]["annotations"] = annotations
        return [
            KubeChange(
                ctx.cluster.name,
                kinds.CLUSTER_GLOBAL_EGRESS_IPS,
                None,
                CLUSTER_EGRESS_NAME,
                cgeip,
                after,
                f"set spec.numGlobalIPs: {count} (was numberOfIPs, which Globalnet never reads); "
                f"Globalnet releases the {len(allocated_ips(cgeip))} cluster egress IP(s) and "
                f"allocates {count} new ones: connections from pods without a GlobalEgressIP "
                "reset, undo restores the count but not the addresses",
            )
        ]

    def reconciling(self, ctx: FixContext) -> str | None:
        cgeip = ctx.cluster.get(kinds.CLUSTER_GLOBAL_EGRESS_IPS, CLUSTER_EGRESS_NAME)
        if cgeip is None:
            return None
        wanted, held = cluster_egress_count(cgeip), len(allocated_ips(cgeip))
        if wanted == held:
            return None
        return (
            f"{GLOBALNET} must allocate {wanted} cluster egress IP(s) to {CLUSTER_EGRESS_NAME} "
            f"(it holds {held})"
        )
