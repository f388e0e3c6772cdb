"""How each type of step is previewed, applied and restored: one executor per step type.

The fixer decides what to do with a plan (journal, order, rollback, re-plan); an executor knows
how one type of change reaches the world: a Kubernetes object through a cluster's writer
(kube_executor), a file, a sysctl or a route through the host adapter's writing functions
(host_executors, the only module that imports them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from globalnet_doctor.fixspec import FileChange, KubeChange, RouteChange, Step, SysctlChange
from globalnet_doctor.host_executors import FileExecutor, RouteExecutor, SysctlExecutor
from globalnet_doctor.kube_executor import Clusters, ClusterWriter, KubeExecutor
from globalnet_doctor.step_execution import Applied, Restored, S, StepExecutor

__all__ = ["Applied", "ClusterWriter", "Clusters", "Executors", "Restored", "StepExecutor"]


class Executors:
    """The executor of every step type."""

    def __init__(self, clusters: Clusters) -> None:
        # Typed one by one so mypy checks each executor against the protocol for its own type.
        objects: StepExecutor[KubeChange] = KubeExecutor(clusters)
        files: StepExecutor[FileChange] = FileExecutor()
        sysctls: StepExecutor[SysctlChange] = SysctlExecutor()
        routes: StepExecutor[RouteChange] = RouteExecutor()
        self._by_type: dict[type[Any], StepExecutor[Any]] = {
            KubeChange: objects,
            FileChange: files,
            SysctlChange: sysctls,
            RouteChange: routes,
        }

    def covers(self, step_type: type[Step]) -> bool:
        return step_type in self._by_type

    def of(self, change: S) -> StepExecutor[S]:
        """The one place a step's type picks its executor (the registry above is keyed by it)."""
        return self._by_type[type(change)]

    def prepare(self, change: Step, backups: Path, index: int) -> Step:
        return self.of(change).prepare(change, backups, index)

    def preview(self, changes: Sequence[Step]) -> list[str]:
        """One answer per change, in order (a fix's steps, none of them made)."""
        return [
            self.of(change).preview(change, [e for e in changes[:index] if type(e) is type(change)])
            for index, change in enumerate(changes)
        ]

    def apply(self, change: Step) -> Applied:
        return self.of(change).apply(change)

    def restore(self, change: Step, stored: Any) -> Restored:
        return self.of(change).restore(change, stored)
