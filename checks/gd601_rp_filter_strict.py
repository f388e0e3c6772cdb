"""GD601: strict reverse-path filtering on the interface that reaches the gateways.

The kernel applies the stronger of ``net.ipv4.conf.all.rp_filter`` and the interface's own
value (``max``). In strict mode (1) it drops a packet whose source's best route back does not
leave by the interface the packet came in on; global IPs are not on the real subnet, so traffic
from them is exactly what strict mode drops. Loose mode (2, what Submariner itself sets) or off
(0, what the field report used) let it through.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from globalnet_doctor.facts.sysctl import (
    KERNEL_DEFAULT,
    MODES,
    STRICT,
    interfaces_to_judge,
    sysctl_name,
)
from globalnet_doctor.host_check import (
    HostCheck,
    facts_of,
    require_host,
    require_situation,
    route_taken,
)
from globalnet_doctor.host_view import HostRole, HostView, PersistedValue, as_int, rp_filter_path
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import CheckContext, NotApplicable


def _mode(value: int | None) -> str:
    if value is None:
        return "unknown"
    return f"{value} ({MODES.get(value, 'unknown')})"


def _persisted_interface(host: HostView, interface: str) -> PersistedValue | None:
    """What the interface gets at boot: its own key (explicit or glob), else what
    ``default`` held when it appeared."""
    return host.persisted(rp_filter_path(interface)) or host.persisted(rp_filter_path("default"))


def _value(persisted: PersistedValue | None) -> int:
    parsed = as_int(persisted.value) if persisted is not None else None
    return KERNEL_DEFAULT if parsed is None else parsed


def _persisted_evidence(persisted: PersistedValue | None) -> dict[str, Any] | None:
    return None if persisted is None else {"value": persisted.value, "source": persisted.source}


class RpFilterStrict(HostCheck):
    id = "GD601"
    name = "rp-filter-strict"
    title = "Reverse-path filtering is not strict on the interface that reaches the gateways"
    severity = Severity.ERROR
    tags = frozenset({"host", "network", "rp_filter"})
    explains = frozenset({"GD503", "GD603"})
    host_roles = frozenset({HostRole.GATEWAY, HostRole.EXTERNAL})
    fix = "GD601"

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        host = require_host(ctx)
        cluster_facts = facts_of(ctx)
        role = require_situation(ctx).role
        interfaces = interfaces_to_judge(host, cluster_facts, role)
        if not interfaces:
            raise NotApplicable(
                "no interface of this machine reaches a gateway node or carries traffic to the "
                "global CIDR"
            )
        all_runtime = as_int(host.sysctl(rp_filter_path("all")))
        all_persisted = host.persisted(rp_filter_path("all"))
        for interface, why in interfaces.items():
            runtime = as_int(host.sysctl(rp_filter_path(interface)))
            if all_runtime is None or runtime is None:
                missing = rp_filter_path("all" if all_runtime is None else interface)
                raise NotApplicable(f"cannot read /proc/sys/{missing} on this machine")
            effective = max(all_runtime, runtime)
            interface_persisted = _persisted_interface(host, interface)
            at_boot = max(_value(all_persisted), _value(interface_persisted))
            evidence: dict[str, Any] = {
                "interface": interface,
                "why": why,
                "runtime": {"all": all_runtime, interface: runtime, "effective": effective},
                "persisted": {
                    "all": _persisted_evidence(all_persisted),
                    interface: _persisted_evidence(interface_persisted),
                    "effectiveAtBoot": at_boot,
                },
                "sysctlFiles": list(host.sysctl_files),
                "role": role.value if role else None,
            }
            range_lookup = host.route_lookups.get(cluster_facts.range_probe_address())
            if range_lookup is not None:
                evidence["globalCidrRoute"] = route_taken(range_lookup)
            names = [sysctl_name(rp_filter_path(n)) for n in ("all", interface)]
            remedy = (
                f"Set loose mode now: `sysctl -w {names[0]}=2 {names[1]}=2`, and persist it: "
                f"`printf '{names[0]} = 2\\n{names[1]} = 2\\n' > "
                "/etc/sysctl.d/99-zz-gdoctor.conf` (0, off, works too, as in the "
                "field report)."
            )
            if effective == STRICT:
                yield self.finding(
                    f"reverse-path filtering is strict on {interface} ({why}): effective "
                    f"rp_filter {_mode(effective)} = max(all={all_runtime}, "
                    f"{interface}={runtime}); the kernel drops every packet arriving on "
                    f"{interface} from a global IP unless its route back to that source leaves "
                    f"by {interface}",
                    evidence=evidence,
                    remedy=remedy,
                )
            elif at_boot == STRICT:
                sources = [
                    p.source
                    for p in (all_persisted, interface_persisted)
                    if p is not None and _value(p) == STRICT
                ]
                yield self.finding(
                    f"rp_filter on {interface} is {_mode(effective)} now, but the persisted "
                    f"configuration makes it strict again at boot ({', '.join(sources)}): "
                    f"effective at boot {_mode(at_boot)}",
                    evidence=evidence,
                    remedy=remedy,
                    severity=Severity.WARNING,
                )
