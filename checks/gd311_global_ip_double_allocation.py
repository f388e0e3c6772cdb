"""GD311: one global IP held by two Globalnet objects, or Globalnet failing to re-reserve the
IPs its objects hold (traffic for the IP reaches only one of them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import allocations, objects
from globalnet_doctor.facts.cidrs import address_in
from globalnet_doctor.facts.globalnet import require_globalnet
from globalnet_doctor.facts.submariner import submariner_reads
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref

_REMEDY = (
    "Restart the globalnet pod on the active gateway (kubectl -n {ns} delete pod -l "
    "app=submariner-globalnet --field-selector spec.nodeName=<active gateway node>): it "
    "re-reserves every held IP and re-allocates the losers; then delete and recreate the "
    "affected ServiceExports so Lighthouse re-reads the new IPs (lighthouse#1740). Upgrade to a "
    "release with the fixes for submariner#4122 and #4104."
)


class GlobalIpDoubleAllocation(Check):
    id = "GD311"
    name = "global-ip-double-allocation"
    title = "Every global IP is held by one Globalnet object, re-reserved without error"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "cluster"})
    explains = frozenset({"GD302", "GD303"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*submariner_reads(settings), *allocations.allocation_reads(settings))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        _, network = require_globalnet(view, settings)
        remedy = _REMEDY.format(ns=settings.submariner_namespace)
        for ip, holders in sorted(allocations.holders_by_ip(view, settings).items()):
            if len(holders) < 2:
                continue
            names = [h.key for h in holders]
            yield self.finding(
                f"global IP {ip} is held by {len(holders)} objects: {', '.join(names)}",
                resources=[ref(view.name, h.kind, h.obj) for h in holders],
                evidence={"globalIP": ip, "holders": names},
                remedy=remedy,
            )
        for holder in allocations.holders(view, settings):
            if holder.kind == kinds.GATEWAYS:
                continue
            failure = allocations.reserve_failure(holder.obj)
            if failure is not None:
                message = str(failure.get("message") or "")
                cause = allocations.reserve_failure_cause(message)
                yield self.finding(
                    f"{holder.key} could not re-reserve its global IPs "
                    f"({allocations.RESERVE_FAILED}): {cause}",
                    resources=[ref(view.name, holder.kind, holder.obj)],
                    evidence={
                        "holder": holder.key,
                        "reason": allocations.RESERVE_FAILED,
                        "message": message,
                        "cause": cause,
                    },
                    remedy=remedy,
                )
            if holder.kind not in allocations.EGRESS_KINDS:
                continue  # GlobalIngressIPs outside the CIDR are GD303's
            outside = [
                ip for ip in allocations.egress_ips(holder.obj) if not address_in(ip, network)
            ]
            if outside:
                yield self.finding(
                    f"{holder.key} holds {', '.join(outside)}, outside the cluster's global CIDR "
                    f"{network}: egress is SNATed to addresses no remote cluster routes back",
                    resources=[ref(view.name, holder.kind, holder.obj)],
                    evidence={
                        "holder": holder.key,
                        "outside": outside,
                        "globalCIDR": str(network),
                        "namespace": objects.namespace(holder.obj),
                    },
                    remedy=remedy,
                )
