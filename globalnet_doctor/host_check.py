"""What host checks are: ``HostCheck``, how they reach the machine's situation (its view and the
clusters' facts, computed once per run), and how to say what the kernel does."""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.clusterset import ClusterFacts, GlobalService, host_reads
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import HostView, RouteLookup
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import ResourceRef
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, Scope


class HostCheck(Check):
    """A check of the machine gdoctor runs on: it runs once, as cluster ``host``, and reads
    what every host check reads from the clusters (the facts that say where the machine
    stands)."""

    scope = Scope.HOST

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return host_reads(settings)


def require_situation(ctx: CheckContext) -> HostSituation:
    """Where the machine stands; the runner gives checks one only where host checks run and
    the machine could be read."""
    if ctx.host is None or ctx.host.view is None:
        raise NotApplicable("this run did not read the machine gdoctor runs on")
    return ctx.host


def require_host(ctx: CheckContext) -> HostView:
    """The machine's view (see ``require_situation``)."""
    view = require_situation(ctx).view
    assert view is not None  # require_situation refuses a situation without one
    return view


def facts_of(ctx: CheckContext) -> ClusterFacts:
    """The clusters' facts the run placed the machine with."""
    return require_situation(ctx).facts


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
