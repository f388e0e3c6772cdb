"""What a fix is: a plan of changes computed purely from the views, applied by the fixer.

A fix never talks to a cluster or the host itself: ``plan`` returns steps (object before and
after, or host change), the fixer shows them, journals the prior state, applies them through
the adapters with optimistic concurrency, and re-runs the check.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.clusterset import ClusterFacts
from globalnet_doctor.facts.sysctl import sysctl_name
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import HostFile, HostView, Route
from globalnet_doctor.kinds import DryRunCreate, Kind, Read
from globalnet_doctor.model import HOST, CheckResult
from globalnet_doctor.view import ClusterView, KubeObject


class Safety(enum.StrEnum):
    SAFE = "safe"
    """An idempotent configuration edit."""
    DISRUPTIVE = "disruptive"
    """Restarts pods."""
    UNSAFE = "unsafe"
    """Changes encapsulation or hides a symptom: needs --unsafe."""


class PlanError(Exception):
    """The fix cannot be planned as asked (e.g. which node to label is ambiguous)."""


@dataclass(frozen=True, slots=True)
class AdmissionGate:
    """When admission allows a change: its dry run is admitted and, where a Deployment answers
    for admission (a webhook's), that Deployment's rollout is complete, so no old pod is left to
    judge the change by the old policy."""

    probe: DryRunCreate
    deployment: tuple[str, str] | None = None
    """(namespace, name) of the Deployment."""


@dataclass(frozen=True, slots=True)
class KubeChange:
    """One object change in one cluster. ``before`` is the object as read (its resourceVersion is
    the precondition); ``after`` the object wanted. Create: no before; delete: no after."""

    cluster: str
    kind: Kind
    namespace: str | None
    name: str
    before: KubeObject | None
    after: KubeObject | None
    why: str
    irreversible: bool = False
    once_admitted: AdmissionGate | None = None
    """Sent only once admission allows it: for a change that would fail, and never be retried,
    while admission still runs an old policy (GD301's re-trigger waits for the webhook's new
    pods). Not journaled: undoing needs only the objects."""

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.action} {self.kind.kind} {where}{self.name} in {self.cluster}"


class FileWrite(enum.StrEnum):
    RENAME = "rename"
    """A new file in the same directory renamed over the old one (atomic for readers)."""
    IN_PLACE = "in-place"
    """The file's own bytes overwritten and fsynced: a bind mount cannot be renamed over."""


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file of the machine rewritten (or created). ``before`` is its bytes as read (None: it
    does not exist), the precondition; ``after`` the bytes wanted."""

    path: str
    """The path judged (as the check names it)."""
    real_path: str
    """Where the bytes are written: the path with its symlinks followed."""
    before: bytes | None
    after: bytes
    how: FileWrite
    why: str
    backup: str | None = None
    """Where the prior bytes are copied before the write; None until the fixer puts it in the
    run's journal folder (a bind mount's directory is not the machine's to write in)."""
    irreversible: bool = False
    cluster: ClassVar[str] = HOST
    once_admitted: ClassVar[None] = None
    """No admission judges the machine's changes."""

    @property
    def action(self) -> str:
        return "create" if self.before is None else "update"

    def describe(self) -> str:
        where = self.path if self.real_path == self.path else f"{self.path} -> {self.real_path}"
        return f"{self.action} file {where} ({self.how.value})"


@dataclass(frozen=True, slots=True)
class SysctlChange:
    """A runtime sysctl set through its /proc/sys file (under ``--root``)."""

    key: str
    """The /proc/sys path form, ``net/ipv4/conf/all/rp_filter``."""
    proc_path: str
    """The file written: ``ROOT/proc/sys/<key>``."""
    before: str | None
    after: str
    why: str
    irreversible: bool = False
    cluster: ClassVar[str] = HOST
    once_admitted: ClassVar[None] = None
    """No admission judges the machine's changes."""
    action: ClassVar[str] = "update"

    @property
    def name(self) -> str:
        """As ``sysctl`` takes it."""
        return sysctl_name(self.key)

    def describe(self) -> str:
        return f"set sysctl {self.name}"


@dataclass(frozen=True, slots=True)
class RouteChange:
    """A route of the machine's main table added (or, when one exists for the same
    destination, replaced: ``before`` is the route it replaces)."""

    destination: str
    gateway: str | None
    device: str | None
    why: str
    before: Route | None = None
    advice: str = ""
    """How to persist it (printed with the plan): a runtime route is gone after a reboot."""
    table: int = 254
    irreversible: bool = False
    cluster: ClassVar[str] = HOST
    once_admitted: ClassVar[None] = None
    """No admission judges the machine's changes."""

    @property
    def action(self) -> str:
        return "create" if self.before is None else "update"

    @property
    def route(self) -> Route:
        return Route(self.destination, self.table, gateway=self.gateway, interface=self.device)

    def describe(self) -> str:
        verb = "add" if self.before is None else "replace"
        return f"{verb} route {self.route.describe()}"


HostChange = FileChange | SysctlChange | RouteChange
Step = KubeChange | FileChange | SysctlChange | RouteChange


@dataclass(frozen=True, slots=True)
class FixOptions:
    node: str | None = None
    recreate_exports: bool = False
    rp_filter: int = 2
    """GD601: the mode to set, 2 (loose, as Submariner sets) or 0 (off)."""
    rollout_timeout: float = 120.0
    """How long a change made ``once_admitted`` waits for admission to allow it."""


@dataclass(frozen=True, slots=True)
class FixContext:
    cluster: ClusterView
    clusters: Sequence[ClusterView]
    result: CheckResult
    """The paired check's result for this cluster, with its findings."""
    settings: Settings = field(default_factory=Settings)
    options: FixOptions = field(default_factory=FixOptions)
    host: HostSituation | None = None
    """For a host fix: the machine as read (its view, role and owning cluster); the view's
    ``root`` is ``--root``, under which every file and /proc/sys path lies."""
    files: Mapping[str, HostFile] = field(default_factory=dict)
    """The files the fix declared (``Fix.host_files``), byte for byte, by path."""

    @property
    def host_view(self) -> HostView:
        if self.host is None or self.host.view is None:
            raise PlanError("this run did not read the machine gdoctor runs on")
        return self.host.view

    @property
    def host_facts(self) -> ClusterFacts:
        """The clusters' facts the run placed the machine with (the check's own)."""
        if self.host is None:
            raise PlanError("this run did not read the machine gdoctor runs on")
        return self.host.facts


class Fix:
    """The remedy of one check (same id). ``plan`` is pure; an empty plan means nothing to do."""

    id: ClassVar[str]
    """The check id this fix repairs."""
    title: ClassVar[str]
    safety: ClassVar[Safety]
    last_resort: ClassVar[bool] = False
    """Applied only when named, never by ``fix --all``."""
    order: ClassVar[int] = 50
    """``fix --all`` applies root causes first: lower runs earlier."""

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        """Reads the plan needs beyond those of its check."""
        return ()

    @classmethod
    def host_files(cls, host: HostSituation, settings: Settings) -> Sequence[str]:
        """Files of the machine the plan needs byte for byte (absolute paths, under
        ``--root``); the fixer reads them into ``FixContext.files``."""
        return ()

    def plan(self, ctx: FixContext) -> list[Step]:
        raise NotImplementedError

    def awaiting(self, ctx: FixContext) -> str | None:
        """After applying, when the check still fails: what must still react (a controller),
        if the configuration itself is now right; None means the fix did not cure it."""
        return None

    def reconciling(self, ctx: FixContext) -> str | None:
        """After applying, when the check passes: what a controller must still do before the
        repair reaches what the check cannot see (GD301: Globalnet re-allocating the exports it
        re-triggered, which GD302 judges); None means fixed."""
        return None


def updated(obj: KubeObject, **changes: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` (plain JSON data) with top-level keys replaced."""
    import json

    copy: dict[str, Any] = json.loads(json.dumps(obj))
    copy.update(changes)
    return copy
