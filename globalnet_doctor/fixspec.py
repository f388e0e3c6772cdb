"""What a fix is: a plan of changes computed purely from the views, applied by the fixer.

A fix never talks to a cluster or the host itself: ``plan`` returns steps (object before and
after, or host change), the fixer shows them, journals the prior state, applies them through
the adapters with optimistic concurrency, and re-runs the check.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from globalnet_doctor.config import Settings
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.model import CheckResult
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

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.action} {self.kind.kind} {where}{self.name} in {self.cluster}"


Step = KubeChange


@dataclass(frozen=True, slots=True)
class FixOptions:
    node: str | None = None
    recreate_exports: bool = False


@dataclass(frozen=True, slots=True)
class FixContext:
    cluster: ClusterView
    clusters: Sequence[ClusterView]
    result: CheckResult
    """The paired check's result for this cluster, with its findings."""
    settings: Settings = field(default_factory=Settings)
    options: FixOptions = field(default_factory=FixOptions)


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

    def plan(self, ctx: FixContext) -> list[Step]:
        raise NotImplementedError

    def awaiting(self, ctx: FixContext) -> str | None:
        """After applying, when the check still fails: what must still react (a controller),
        if the configuration itself is now right; None means the fix did not cure it."""
        return None


def updated(obj: KubeObject, **changes: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` (plain JSON data) with top-level keys replaced."""
    import json

    copy: dict[str, Any] = json.loads(json.dumps(obj))
    copy.update(changes)
    return copy
