"""The executor of Kubernetes objects: sent through a cluster's writer with the resourceVersion
read as precondition, previewed with dryRun=All."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import KubeChange
from globalnet_doctor.kinds import Kind, Probe
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.step_execution import Applied, Restored
from globalnet_doctor.view import KubeObject, ProbeAnswer


class WriteAnswer(Protocol):
    """A cluster's answer to one write (globalnet_doctor.adapters.kube.WriteResult)."""

    @property
    def status(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def stored(self) -> Any: ...
    @property
    def ok(self) -> bool: ...
    @property
    def conflict(self) -> bool: ...


class ClusterWriter(Protocol):
    """Writes to one cluster (globalnet_doctor.adapters.kube.KubeWriter)."""

    def get(self, kind: Kind, like: Any) -> Any: ...
    def probe(self, probe: Probe) -> ProbeAnswer: ...
    def update(self, kind: Kind, obj: Any, dry_run: bool = False) -> WriteAnswer: ...
    def create(self, kind: Kind, obj: Any, dry_run: bool = False) -> WriteAnswer: ...
    def delete(self, kind: Kind, obj: Any, dry_run: bool = False) -> WriteAnswer: ...


Connect = Callable[[Target, float], AbstractContextManager[ClusterWriter]]


def _connect_kube(target: Target, timeout: float) -> AbstractContextManager[ClusterWriter]:
    # Imported on use: the Kubernetes client is heavy and only writing needs it.
    from globalnet_doctor.adapters.kube import KubeWriter

    return KubeWriter(target, timeout)


class Clusters:
    """The clusters a run may write to, by context name: a writer per use, closed after it."""

    def __init__(
        self, targets: Sequence[Target], timeout: float, connect: Connect = _connect_kube
    ) -> None:
        self._targets = {t.name: t for t in targets}
        self._timeout = timeout
        self._connect = connect

    def knows(self, cluster: str) -> bool:
        return cluster in self._targets

    @contextmanager
    def writer(self, cluster: str) -> Iterator[ClusterWriter]:
        with self._connect(self._targets[cluster], self._timeout) as writer:
            yield writer


_SERVER_MANAGED = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def _http_answer(result: WriteAnswer) -> str:
    return "ok" if result.ok else f"HTTP {result.status}: {result.message}"


class KubeExecutor:
    """Objects: sent with the resourceVersion read as precondition; previewed with dryRun=All,
    so admission and RBAC judge the change and nothing changes."""

    def __init__(self, clusters: Clusters) -> None:
        self._clusters = clusters

    def prepare(self, change: KubeChange, backups: Path, index: int) -> KubeChange:
        return change

    def preview(self, change: KubeChange, earlier: Sequence[KubeChange]) -> str:
        if change.action == "create" and any(
            e.action == "delete" and _same_object(e, change) for e in earlier
        ):
            # A dry-run delete removed nothing: the server would only say it exists.
            return "not sent: it exists until the delete above is applied"
        with self._clusters.writer(change.cluster) as writer:
            return _http_answer(send(writer, change, dry_run=True))

    def apply(self, change: KubeChange) -> Applied:
        with self._clusters.writer(change.cluster) as writer:
            result = send(writer, change, dry_run=False)
        return Applied(result.ok, _http_answer(result), result.conflict, result.stored)

    def restore(self, change: KubeChange, stored: Any) -> Restored:
        if not self._clusters.knows(change.cluster):
            return Restored(False, f"context {change.cluster} is not in the kubeconfig", False)
        with self._clusters.writer(change.cluster) as writer:
            result = restore_object(writer, change)
        return Restored(result.ok, "" if result.ok else f"HTTP {result.status} {result.message}")


def _same_object(one: KubeChange, other: KubeChange) -> bool:
    return (one.cluster, one.kind.resource, one.namespace, one.name) == (
        other.cluster,
        other.kind.resource,
        other.namespace,
        other.name,
    )


def send(writer: ClusterWriter, change: KubeChange, dry_run: bool) -> WriteAnswer:
    if change.action == "create":
        return writer.create(change.kind, change.after, dry_run=dry_run)
    if change.action == "delete":
        return writer.delete(change.kind, change.before, dry_run=dry_run)
    return writer.update(change.kind, change.after, dry_run=dry_run)


@dataclass(frozen=True, slots=True)
class _Gone:
    """A created object already deleted: nothing to restore."""

    status: int = 200
    message: str = ""
    stored: Any = None
    ok: bool = True
    conflict: bool = False


def restore_object(writer: ClusterWriter, change: KubeChange) -> WriteAnswer:
    """Puts an object back as it was before ``change``: the prior object, at the current
    resourceVersion, server-managed fields left to the server. A created object is deleted."""
    if change.action == "create":
        current = writer.get(change.kind, change.after)
        return writer.delete(change.kind, current) if current is not None else _Gone()
    prior: KubeObject = dict(change.before or {})
    current = writer.get(change.kind, prior)
    metadata = {k: v for k, v in objects.metadata(prior).items() if k not in _SERVER_MANAGED}
    if current is None:
        return writer.create(change.kind, {**prior, "metadata": metadata})
    metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
    return writer.update(change.kind, {**prior, "metadata": metadata})
