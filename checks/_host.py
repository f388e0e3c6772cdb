"""What the host checks share: the machine's view, the cluster facts, and how to say what the
kernel does."""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor import host_situation as host_facts
from globalnet_doctor.config import Settings
from globalnet_doctor.host_situation import ClusterFacts, GlobalService, host_reads
from globalnet_doctor.host_view import (
    RESOLV_CONF_MAX_NAMESERVERS,
    HostView,
    ResolvConf,
    RouteLookup,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import ResourceRef
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, Scope

GLIBC_DEFAULT_NAMESERVER = "127.0.0.1"
"""The nameserver glibc uses when resolv.conf is missing or names none."""


class HostCheck(Check):
    """A check of the machine gdoctor runs on: it runs once, as cluster ``host``, and reads
    what every host check reads from the clusters (the facts that say where the machine
    stands)."""

    scope = Scope.HOST

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return host_reads(settings)


def require_host(ctx: CheckContext) -> HostView:
    """The machine's view; the runner gives host checks one only where host checks run."""
    if ctx.host is None:
        raise NotApplicable("this run did not read the machine gdoctor runs on")
    return ctx.host


def facts_of(ctx: CheckContext) -> ClusterFacts:
    return host_facts.cluster_facts(ctx.clusters, ctx.settings)


def require_probes(ctx: CheckContext, check_id: str) -> None:
    if not ctx.probes:
        raise NotApplicable(
            f"a probe (sends traffic from this machine): runs with --probes or when named "
            f"(gdoctor check {check_id})"
        )


def route_taken(lookup: RouteLookup) -> str:
    """What the kernel does with packets to the lookup's destination, in ``ip route`` words."""
    if lookup.error is not None:
        rejecting = f" (route {lookup.matched.describe()})" if lookup.matched else ""
        return f"`ip route get {lookup.destination}` answers: {lookup.error}{rejecting}"
    text = lookup.describe()
    if lookup.matched is not None:
        route = lookup.matched.describe()
        if lookup.matched.is_default:
            text += f" (the default route {route.removeprefix('default').strip()})".rstrip()
        else:
            text += f" (route {route})"
    return text


def sysctl_name(path: str) -> str:
    """A /proc/sys path as ``sysctl`` takes it: dotted, unless a component holds a dot
    (``eth0.100``), where the slash form is the only unambiguous one."""
    parts = path.split("/")
    return path if any("." in p for p in parts) else ".".join(parts)


def effective_nameservers(resolv: ResolvConf) -> list[str]:
    """The nameservers glibc queries, in order: the first three lines, or 127.0.0.1 when the
    file is missing or names none. Empty when the file exists but cannot be read."""
    if resolv.error is not None and resolv.error != "no such file":
        return []
    return list(resolv.nameservers[:RESOLV_CONF_MAX_NAMESERVERS]) or [GLIBC_DEFAULT_NAMESERVER]


def service_ref(service: GlobalService) -> ResourceRef:
    return ResourceRef(
        cluster=service.context,
        api_version="v1",
        kind="Service",
        namespace=service.namespace,
        name=service.name,
    )


def lookups_of(host: HostView, addresses: Sequence[str]) -> dict[str, str]:
    """address -> what the kernel does with it, for the evidence."""
    return {a: route_taken(host.route_lookups[a]) for a in addresses if a in host.route_lookups}
