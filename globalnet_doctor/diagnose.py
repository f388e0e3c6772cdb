"""One diagnosis run: read every cluster once, run the selected checks, assemble the report."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from globalnet_doctor import __version__, facts
from globalnet_doctor.config import Settings
from globalnet_doctor.kinds import Probe, Read, plan_reads
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.model import ClusterInfo, Report
from globalnet_doctor.runner import Progress, RunOptions, run_checks
from globalnet_doctor.spec import Check
from globalnet_doctor.view import ClusterView, InputFailed, InputUnavailable


def reads_for(checks: Sequence[type[Check]], settings: Settings) -> list[Read]:
    """The engine's own reads, then every read of the selected checks, deduplicated."""
    wanted = list(facts.submariner_reads(settings))
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
) -> Report:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    # Imported here so that commands which never contact a cluster never import the client.
    from globalnet_doctor.adapters.kube import read_clusters

    views = read_clusters(
        targets,
        reads_for(checks, options.settings),
        options.settings.request_timeout,
        progress,
        probe_planner(checks, options),
    )
    return build_report(checks, views, options, started, clock, warnings, progress)


def build_report(
    checks: Sequence[type[Check]],
    views: Sequence[ClusterView],
    options: RunOptions,
    started: datetime,
    clock: float,
    warnings: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    results = run_checks(checks, views, options, progress)
    return Report(
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
        cluster_id=facts.cluster_id(view, settings),
        kubernetes_version=view.kubernetes_version,
        observed_at=iso_utc(view.observed_at),
        error=view.error,
    )
