"""One diagnosis run: read every cluster once, run the selected checks, assemble the report."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from globalnet_doctor import __version__
from globalnet_doctor import host_situation as host_facts
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.clusterset import cluster_facts, host_reads
from globalnet_doctor.facts.submariner import cluster_id, submariner_reads
from globalnet_doctor.host_situation import HostMode, HostSituation
from globalnet_doctor.host_view import HostProbe
from globalnet_doctor.kinds import Probe, Read, plan_reads
from globalnet_doctor.kubeconfig import SkippedContext, Target
from globalnet_doctor.model import ClusterInfo, Report
from globalnet_doctor.rootcauses import root_causes
from globalnet_doctor.runner import Progress, RunOptions, run_checks
from globalnet_doctor.spec import Check
from globalnet_doctor.view import ClusterView, InputFailed, InputUnavailable


def reads_for(
    checks: Sequence[type[Check]], settings: Settings, host_mode: HostMode = HostMode.AUTO
) -> list[Read]:
    """The engine's own reads (with the host facts' when a selected check reads the machine),
    then every read of the selected checks, deduplicated."""
    wanted = list(submariner_reads(settings))
    if host_mode is not HostMode.OFF and any(c.reads_host() for c in checks):
        wanted.extend(host_reads(settings))
    for check in checks:
        wanted.extend(check.reads(settings))
    return plan_reads(wanted)


def probe_planner(
    checks: Sequence[type[Check]], options: RunOptions
) -> Callable[[ClusterView], list[Probe]]:
    """The probes to send to a cluster once it is read: those of the checks allowed to probe."""
    probing = [c for c in checks if options.probes or c.id in options.named]

    def plan(view: ClusterView) -> list[Probe]:
        planned: list[Probe] = []
        for check in probing:
            try:
                planned.extend(check.probe_requests(view, options.settings))
            except (InputUnavailable, InputFailed):
                continue  # the check itself will skip or fail on the same missing input
        return planned

    return plan


def diagnose(
    checks: Sequence[type[Check]],
    targets: Sequence[Target],
    options: RunOptions,
    warnings: Sequence[str] = (),
    progress: Progress | None = None,
    skipped: Sequence[SkippedContext] = (),
) -> Report:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    views, host = read_everything(checks, targets, options, progress)
    report = build_report(checks, views, options, started, clock, warnings, progress, host)
    return with_skipped_contexts(report, skipped)


def with_skipped_contexts(report: Report, skipped: Sequence[SkippedContext]) -> Report:
    """The report with the contexts that were not read listed among its clusters, and why."""
    listed = [ClusterInfo(s.name, "", reachable=False, skipped=s.reason) for s in skipped]
    return dataclasses.replace(report, clusters=[*report.clusters, *listed])


def read_everything(
    checks: Sequence[type[Check]],
    targets: Sequence[Target],
    options: RunOptions,
    progress: Progress | None = None,
    extra_reads: Sequence[Read] = (),
) -> tuple[list[ClusterView], HostSituation | None]:
    """What the checks read and probe (and ``extra_reads``, a fix's): every cluster, then the
    machine where it matters."""
    # Imported here so that commands which never contact a cluster never import the client.
    from globalnet_doctor.adapters.kube import read_clusters

    reads = reads_for(checks, options.settings, options.host.mode)
    views = read_clusters(
        targets,
        plan_reads([*reads, *extra_reads]) if extra_reads else reads,
        options.settings.request_timeout,
        progress,
        probe_planner(checks, options),
    )
    return views, read_host_situation(checks, views, options, progress)


def read_host_situation(
    checks: Sequence[type[Check]],
    views: Sequence[ClusterView],
    options: RunOptions,
    progress: Progress | None = None,
) -> HostSituation | None:
    """The machine, read after the clusters (which IPs to look up depends on them), and where
    it stands among them; its probes sent when host checks run here. None when no selected
    check reads the machine."""
    if not any(c.reads_host() for c in checks):
        return None
    settings, mode = options.settings, options.host.mode
    if mode is HostMode.OFF:
        # Nothing about the machine is judged, and the host reads were not made.
        return host_facts.HOST_CHECKS_OFF
    # Computed once: host checks and host fixes get these through the situation.
    facts = cluster_facts(views, settings)
    # Imported here so that commands which never read the machine never import pyroute2.
    from globalnet_doctor.adapters.host_prober import send_probes
    from globalnet_doctor.adapters.host_reader import HostSource, read_host

    source = HostSource(options.host.root, options.host.resolv_conf)
    # First without route lookups (one per global IP, costly with thousands of exports):
    # whether host checks run here needs only the machine's addresses.
    view = read_host(source, ())
    found = host_facts.situation(view, facts, views, settings, mode)
    if found.applies and view.error is None:
        view = read_host(source, facts.lookup_addresses())
        found = host_facts.situation(view, facts, views, settings, mode)
    if progress is not None:
        progress("read the machine")
    if found.applies and view.error is None:
        probes = host_probes(checks, views, options, found)
        if probes:
            if progress is not None:
                progress(f"sending {len(probes)} probe(s) from the machine")
            send_probes(view, probes)
    return found


def host_probes(
    checks: Sequence[type[Check]],
    views: Sequence[ClusterView],
    options: RunOptions,
    found: HostSituation,
) -> list[HostProbe]:
    """The probes of the host checks allowed to probe that apply to the machine's role."""
    if found.view is None:
        return []
    planned: list[HostProbe] = []
    for check in checks:
        if not options.may_probe(check) or (
            check.host_roles and found.role not in check.host_roles
        ):
            continue
        try:
            planned.extend(check.host_probe_requests(found, views, options.settings))
        except (InputUnavailable, InputFailed):
            continue  # the check itself will skip or fail on the same missing input
    return list(dict.fromkeys(planned))


def build_report(
    checks: Sequence[type[Check]],
    views: Sequence[ClusterView],
    options: RunOptions,
    started: datetime,
    clock: float,
    warnings: Sequence[str] = (),
    progress: Progress | None = None,
    host: HostSituation | None = None,
) -> Report:
    results = run_checks(checks, views, options, progress, host)
    return Report(
        root_causes=root_causes(checks, results),
        tool_version=__version__,
        started_at=iso_utc(started),
        duration_ms=int((time.perf_counter() - clock) * 1000),
        clusters=[_cluster_info(view, options.settings) for view in views],
        results=results,
        warnings=tuple(warnings),
    )


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cluster_info(view: ClusterView, settings: Settings) -> ClusterInfo:
    return ClusterInfo(
        name=view.name,
        server=view.server,
        reachable=view.reachable,
        cluster_id=cluster_id(view, settings),
        kubernetes_version=view.kubernetes_version,
        observed_at=iso_utc(view.observed_at),
        error=view.error,
    )
