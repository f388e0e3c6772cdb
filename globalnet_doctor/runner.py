"""Runs selected checks over the views: one result per (check, cluster), isolated and timed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from globalnet_doctor.config import Settings
from globalnet_doctor.exitcodes import ExitCode
from globalnet_doctor.model import CheckResult, Finding, Severity, Status, highest_severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, Scope
from globalnet_doctor.view import ClusterView, InputUnavailable

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunOptions:
    settings: Settings
    probes: bool = False
    named: frozenset[str] = frozenset()
    """Ids of checks the user named: their probes run even without ``--probes``."""


def run_checks(
    checks: Sequence[type[Check]],
    clusters: Sequence[ClusterView],
    options: RunOptions,
    progress: Progress | None = None,
) -> list[CheckResult]:
    results: list[CheckResult] = []
    for index, check in enumerate(checks, start=1):
        if progress is not None:
            progress(f"running {check.id} {check.name} ({index}/{len(checks)})")
        if check.scope is Scope.HOST:
            results.append(_skipped(check, "host", "host checks are not available yet"))
            continue
        for cluster in clusters:
            results.append(_run_one(check, cluster, clusters, options))
    return results


def _run_one(
    check: type[Check], cluster: ClusterView, clusters: Sequence[ClusterView], options: RunOptions
) -> CheckResult:
    if not cluster.reachable:
        return _errored(check, cluster.name, f"cluster unreachable: {cluster.error}", 0)
    context = CheckContext(
        cluster=cluster,
        clusters=clusters,
        settings=options.settings,
        probes=options.probes or check.id in options.named,
    )
    started = time.perf_counter()
    outcome = _call_with_timeout(check, context, options.settings.check_timeout)
    elapsed = int((time.perf_counter() - started) * 1000)
    if isinstance(outcome, list):
        return CheckResult(
            check=check.id,
            name=check.name,
            cluster=cluster.name,
            status=Status.FAIL if outcome else Status.PASS,
            severity=highest_severity(outcome, check.severity),
            duration_ms=elapsed,
            findings=tuple(outcome),
        )
    if isinstance(outcome, InputUnavailable | NotApplicable):
        return _skipped(check, cluster.name, outcome.reason, elapsed)
    return _errored(check, cluster.name, _one_line(outcome), elapsed)


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
