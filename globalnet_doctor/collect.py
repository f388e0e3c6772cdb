"""Support bundles from a live run, and the same run replayed offline from a bundle.

Both go through the same steps as `gdoctor check` (read, judge where the machine stands, run the
checks): the bundle records what was read and probed, the replay feeds it back, so a replay
gives the live run's results.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from globalnet_doctor import host_situation as host_facts
from globalnet_doctor.bundle import NOT_IN_BUNDLE, Bundle, BundleError, BundleWriter
from globalnet_doctor.config import Settings, typed_settings
from globalnet_doctor.diagnose import build_report, read_everything
from globalnet_doctor.errors import UsageError
from globalnet_doctor.facts.clusterset import cluster_facts
from globalnet_doctor.formatters.json import report_to_dict
from globalnet_doctor.host_situation import HostMode, HostSituation
from globalnet_doctor.host_view import host_view_from_dict, host_view_to_dict
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.model import Report
from globalnet_doctor.runner import HostOptions, Progress, RunOptions
from globalnet_doctor.spec import Check
from globalnet_doctor.view import ClusterView

HOST_MEMBER = "host/host.json"
_LOGGER = "globalnet_doctor"


@dataclass(frozen=True, slots=True)
class LogOptions:
    """Pod logs to collect (``--logs``): how far back and how much per container at most."""

    since_seconds: int = 3600
    max_bytes: int = 1024 * 1024


def collect(
    checks: Sequence[type[Check]],
    targets: Sequence[Target],
    options: RunOptions,
    path: Path,
    logs: LogOptions | None = None,
    warnings: Sequence[str] = (),
    progress: Progress | None = None,
) -> tuple[Report, dict[str, Any]]:
    """Runs the checks live and writes everything they read into the bundle at ``path``."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger(_LOGGER).addHandler(handler)
    try:
        started, clock = datetime.now(UTC), time.perf_counter()
        views, host = read_everything(checks, targets, options, progress)
        report = build_report(checks, views, options, started, clock, warnings, progress, host)
        writer = BundleWriter()
        writer.add_views(views)
        writer.add_json("report.json", report_to_dict(report))
        if host is not None and host.view is not None:
            writer.add_json(HOST_MEMBER, host_view_to_dict(host.view))
            _add_host_commands(writer, progress)
        else:
            writer.skip("host facts", host.reason if host is not None else "no host check ran")
        if logs is not None:
            _add_pod_logs(writer, targets, options.settings, logs, progress)
    finally:
        logging.getLogger(_LOGGER).removeHandler(handler)
    writer.add_text("logs/gdoctor.log", captured.getvalue())
    extra = {
        "clusters": [v.name for v in views],
        "probes": options.probes,
        "named": sorted(options.named),
        "hostMode": options.host.mode.value,
        "settings": dataclasses.asdict(options.settings),
        "checks": [c.id for c in checks],
    }
    manifest = writer.write(path, started, extra)
    return report, manifest


def _add_host_commands(writer: BundleWriter, progress: Progress | None) -> None:
    from globalnet_doctor.adapters.host_reader import command_outputs

    for name, (output, failure) in command_outputs().items():
        if failure is not None:
            writer.skip(f"host: {name}", failure)
        else:
            writer.add_text(f"host/{name.replace(' ', '-')}.txt", output)
    if progress is not None:
        progress("recorded the machine's network state")


def _add_pod_logs(
    writer: BundleWriter,
    targets: Sequence[Target],
    settings: Settings,
    logs: LogOptions,
    progress: Progress | None,
) -> None:
    from globalnet_doctor.adapters.kube import pod_logs

    for target in targets:
        for member, text, failure in pod_logs(target, settings, logs.since_seconds, logs.max_bytes):
            if failure is not None:
                writer.skip(f"{target.name}: log of {member}", failure)
            else:
                writer.add_text(f"logs/pods/{target.name}/{member}.log", text)
        if progress is not None:
            progress(f"collected pod logs of {target.name}")


def replay(
    bundle: Bundle,
    checks: Sequence[type[Check]],
    named: frozenset[str],
    warnings: Sequence[str] = (),
    contexts: Sequence[str] = (),
) -> Report:
    """The checks run on what the bundle recorded, as the live run judged it; with
    ``contexts``, on those of the recorded clusters only (as --context does live)."""
    manifest = bundle.manifest
    try:
        settings = Settings(**typed_settings(manifest.get("settings", {}), "the bundle's settings"))
    except UsageError as exc:
        raise BundleError(str(exc)) from None
    modes = {m.value for m in HostMode}
    if manifest.get("hostMode", HostMode.AUTO.value) not in modes:
        raise BundleError(f"the bundle's hostMode is not one of {', '.join(sorted(modes))}")
    mode = HostMode(manifest.get("hostMode", HostMode.AUTO.value))
    options = RunOptions(
        settings=settings,
        probes=bool(manifest.get("probes")),
        named=named | frozenset(manifest.get("named", ())),
        host=HostOptions(mode=mode),
    )
    started, clock = datetime.now(UTC), time.perf_counter()
    views = _selected(bundle.views(), contexts)
    host = _replayed_host(bundle, checks, views, options)
    return build_report(checks, views, options, started, clock, warnings, None, host)


def _selected(views: list[ClusterView], contexts: Sequence[str]) -> list[ClusterView]:
    if not contexts:
        return views
    recorded = [v.name for v in views]
    unknown = [c for c in contexts if c not in recorded]
    if unknown:
        raise UsageError(
            f"unknown context {', '.join(unknown)} (the bundle recorded: {', '.join(recorded)})"
        )
    by_name = {v.name: v for v in views}
    return [by_name[c] for c in dict.fromkeys(contexts)]


def _replayed_host(
    bundle: Bundle, checks: Sequence[type[Check]], views: Sequence[Any], options: RunOptions
) -> HostSituation | None:
    if not any(c.reads_host() for c in checks):
        return None
    if options.host.mode is HostMode.OFF:
        return host_facts.HOST_CHECKS_OFF
    if HOST_MEMBER not in bundle.members:
        return HostSituation(False, f"{NOT_IN_BUNDLE}: the machine's facts were not collected")
    try:
        view = host_view_from_dict(bundle.json(HOST_MEMBER))
    except ValueError as exc:  # a ShapeError, or an observedAt that is no ISO time
        raise BundleError(f"{HOST_MEMBER} in the bundle is malformed: {exc}") from None
    facts = cluster_facts(views, options.settings)
    return host_facts.situation(view, facts, views, options.settings, options.host.mode)
