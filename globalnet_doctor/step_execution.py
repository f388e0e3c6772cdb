"""What executing a step answers, and the protocol every step type's executor follows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from globalnet_doctor.fixspec import Step

S = TypeVar("S", bound=Step)


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of applying one step."""

    ok: bool
    answer: str
    """What the step's report shows: "ok", or why not, as the server or the machine said it."""
    conflict: bool = False
    """What is there is no longer what the plan was computed from: plan again."""
    stored: Any = None
    """What the journal keeps of the change made (JSON data), for undo."""


@dataclass(frozen=True, slots=True)
class Restored:
    """The outcome of putting one step's prior state back."""

    ok: bool
    problem: str = ""
    """Why not, as `gdoctor undo` prints it."""
    reached: bool = True
    """False when the change's cluster is not in the kubeconfig: nothing was tried."""


class StepExecutor(Protocol[S]):
    """Previews, applies and restores the steps of one type."""

    def prepare(self, change: S, backups: Path, index: int) -> S:
        """The change as it is journaled and applied (a file's backup put in ``backups``)."""
        ...

    def preview(self, change: S, earlier: Sequence[S]) -> str:
        """Judges the change without making it ("ok" or why not); ``earlier`` are the steps of
        the same type before it in its fix, previewed but not made."""
        ...

    def apply(self, change: S) -> Applied: ...

    def restore(self, change: S, stored: Any) -> Restored:
        """Puts back the state before ``change``; ``stored`` is what applying it journaled."""
        ...
