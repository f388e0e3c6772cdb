"""Runs selected checks over the views: one result per (check, cluster), isolated and timed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from globalnet_doctor.config import Settings
from globalnet_doctor.exitcodes import ExitCode
from globalnet_doctor.host_situation import HostMode, HostSituation
from globalnet_doctor.model import HOST, CheckResult, Finding, Severity, Status, highest_severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, Scope
from globalnet_doctor.view import ClusterView, InputUnavailable

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class HostOptions:
    """How the machine gdoctor runs on is read (``--host/--no-host``, ``--root``,
    ``--resolv-conf``)."""

    mode: HostMode = HostMode.AUTO
    root: Path = Path("/")
    resolv_conf: Path | None = None


@dataclass(frozen=True, slots=True)
class RunOptions:
    settings: Settings
    probes: bool = False
    named: frozenset[str] = frozenset()
    """Ids of checks the user named: their probes run even without ``--probes``."""
    host: HostOptions = field(default_factory=HostOptions)

    def may_probe(self, check: type[Check]) -> bool:
        return self.probes or check.id in self.named


def run_checks(
    checks: Sequence[type[Check]],
    clusters: Sequence[ClusterView],
    options: RunOptions,
    progress: Progress | None = None,
    host: HostSituation | None = None,
) -> list[CheckResult]:
    """One result per (check, cluster), and one per host-scope check (cluster ``host``)."""
    results: list[CheckResult] = []
    for index, check in enumerate(checks, start=1):
        if progress is not None:
            progress(f"running {check.id} {check.name} ({index}/{len(checks)})")
        if check.scope is Scope.HOST:
            results.append(_run_host(check, clusters, options, host))
            continue
        for cluster in clusters:
            results.append(_run_one(check, cluster, clusters, options, host))
    return results


def _usable_host(host: HostSituation | None) -> HostSituation | None:
    """The situation when host checks run here and the machine could be read, else None."""
    if host is None or not host.applies or host.view is None or host.view.error is not None:
        return None
    return host


def _run_one(
    check: type[Check],
    cluster: ClusterView,
    clusters: Sequence[ClusterView],
    options: RunOptions,
    host: HostSituation | None = None,
) -> CheckResult:
    if not cluster.reachable:
        return _errored(check, cluster.name, f"cluster unreachable: {cluster.error}", 0)
    context = CheckContext(
        cluster=cluster,
        clusters=clusters,
        settings=options.settings,
        probes=options.may_probe(check),
        host=_usable_host(host),
    )
    return _result(check, context, cluster.name, options)


def _run_host(
    check: type[Check],
    clusters: Sequence[ClusterView],
    options: RunOptions,
    host: HostSituation | None,
) -> CheckResult:
    """A host-scope check, once, as cluster ``host``: skipped where host checks do not run or
    the machine's role is not one the check applies to."""
    if host is None:
        return _skipped(check, HOST, "this run did not read the machine gdoctor runs on")
    if host.error is not None:
        return _errored(check, HOST, host.error, 0)
    if not host.applies or host.view is None:
        return _skipped(check, HOST, host.reason)
    if host.view.error is not None:
        return _errored(check, HOST, host.view.error, 0)
    if check.host_roles and host.role not in check.host_roles:
        roles = " or ".join(sorted(r.value for r in check.host_roles))
        return _skipped(
            check,
            HOST,
            f"applies to {roles} machines; this one is a {host.role} machine ({host.reason})",
        )
    if not clusters:
        return _skipped(check, HOST, "no cluster in this run")
    context = CheckContext(
        cluster=host.owner_view(clusters),
        clusters=clusters,
        settings=options.settings,
        probes=options.may_probe(check),
        host=host,
    )
    return _result(check, context, HOST, options)


def _result(
    check: type[Check], context: CheckContext, name: str, options: RunOptions
) -> CheckResult:
    started = time.perf_counter()
    outcome = _call_with_timeout(check, context, options.settings.check_timeout)
    elapsed = int((time.perf_counter() - started) * 1000)
    if isinstance(outcome, list):
        return CheckResult(
            check=check.id,
            name=check.name,
            cluster=name,
            status=Status.FAIL if outcome else Status.PASS,
            severity=highest_severity(outcome, check.severity),
            duration_ms=elapsed,
            findings=tuple(outcome),
        )
    if isinstance(outcome, InputUnavailable | NotApplicable):
        return _skipped(check, name, outcome.reason, elapsed)
    return _errored(check, name, _one_line(outcome), elapsed)


def _call_with_timeout(
    check: type[Check], context: CheckContext, timeout: float
) -> list[Finding] | BaseException:
    box: list[list[Finding] | BaseException] = []

    def target() -> None:
        try:
            box.append(list(check().run(context)))
        except BaseException as exc:  # the check's failure is reported, never propagated
            box.append(exc)

    # A daemon thread, because a check stuck past its timeout cannot be interrupted and must
    # not keep the process alive.
    worker = threading.Thread(target=target, name=f"check-{check.id}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        return TimeoutError(f"the check did not finish within {timeout:g} s")
    return box[0]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _skipped(check: type[Check], cluster: str, reason: str, elapsed: int = 0) -> CheckResult:
    return CheckResult(
        check=check.id,
        name=check.name,
        cluster=cluster,
        status=Status.SKIP,
        severity=check.severity,
        duration_ms=elapsed,
        skip_reason=reason,
    )


def _errored(check: type[Check], cluster: str, message: str, elapsed: int) -> CheckResult:
    return CheckResult(
        check=check.id,
        name=check.name,
        cluster=cluster,
        status=Status.ERROR,
        severity=check.severity,
        duration_ms=elapsed,
        error=message,
    )


def exit_code_for(results: Sequence[CheckResult], incomplete: bool, fail_on: str) -> ExitCode:
    """Findings at or above ``fail_on`` first; then whether the run was complete."""
    if fail_on != "never":
        threshold = Severity(fail_on).rank
        if any(
            finding.severity.rank >= threshold
            for result in results
            if result.status is Status.FAIL
            for finding in result.findings
        ):
            return ExitCode.FINDINGS
    return ExitCode.INCOMPLETE if incomplete else ExitCode.OK
