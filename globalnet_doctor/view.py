"""The read-only view of one cluster that every check reads: the answers to the declared reads.

Adapters fill a view (live from the API server, or later from a support bundle); checks only
query it. A query for something no check declared is a programming error, so the declared inputs
stay honest and a bundle always holds everything a check needs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from globalnet_doctor.facts import objects
from globalnet_doctor.kinds import Kind, Probe, Read, selector_matches

T = TypeVar("T")

KubeObject = Mapping[str, Any]


class InputUnavailable(Exception):
    """A read the check needs has no answer; the runner turns it into ``skip`` with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotApplicable(Exception):
    """The check does not apply here (Submariner absent, Calico absent, ...): ``skip``. Beside
    ``InputUnavailable`` so the facts that decide it raise it without depending on checks."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InputFailed(Exception):
    """A read the check needs failed (timeout, server error): the runner reports ``error``."""


class ProbeNotRun(LookupError):
    """The probe was not sent in this run (probes off, or the check was not named)."""


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """What the server answered a probe: the HTTP status and the Status message, verbatim."""

    status: int
    message: str = ""
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return 200 <= self.status < 300


class UndeclaredRead(LookupError):
    """A check queried something it did not declare in ``reads``."""


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """The answer to one read: objects (none for a GET that found nothing), or why none."""

    objects: tuple[KubeObject, ...] = ()
    unavailable: str | None = None
    """Why the read has no answer and checks needing it skip: ``forbidden: list pods``, ...."""
    failed: str | None = None
    """Why the read broke (timeout, server error): checks needing it report ``error``."""
    api_version: str | None = None


@dataclass(slots=True)
class ClusterView:
    name: str
    """The kubeconfig context, the cluster's name in every result."""
    server: str
    observed_at: datetime
    reachable: bool = True
    error: str | None = None
    kubernetes_version: str | None = None
    answers: dict[Read, ReadAnswer] = field(default_factory=dict)
    absent_reason: str | None = None
    """Set on views replayed from a bundle: a read it lacks is unavailable for this reason."""
    probe_answers: dict[Probe, ProbeAnswer] = field(default_factory=dict)
    _derived: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)
    """Values computed from the answers (filtered lists, indexes), once per view: the answers
    never change after the read, so neither do they."""

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per view and key: the indexes that let a check look an object up
        instead of scanning every object once per export (which grows with the square)."""
        if key not in self._derived:
            self._derived[key] = compute()
        value: T = self._derived[key]
        return value

    def probe(self, probe: Probe) -> ProbeAnswer:
        answer = self.probe_answers.get(probe)
        if answer is None:
            raise ProbeNotRun(probe.describe())
        return answer

    def _answer_for(self, wanted: Read) -> ReadAnswer:
        answer = self.answers.get(wanted)
        if answer is None:
            answer = next((a for r, a in self.answers.items() if r.covers(wanted)), None)
        if answer is None:
            if self.absent_reason is not None:
                raise InputUnavailable(f"{self.absent_reason}: {wanted.describe()}")
            raise UndeclaredRead(f"{wanted.describe()} was not declared by the check")
        return _usable(answer)

    def list(
        self, kind: Kind, namespace: str | None = None, label_selector: str | None = None
    ) -> Sequence[KubeObject]:
        wanted = Read(kind, namespace, label_selector=label_selector)
        found = self._answer_for(wanted).objects
        if wanted in self.answers:
            return found
        return self.derived(
            ("list", wanted),
            lambda: tuple(
                o
                for o in found
                if (namespace is None or objects.namespace(o) == namespace)
                and (label_selector is None or selector_matches(label_selector, objects.labels(o)))
            ),
        )

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> KubeObject | None:
        wanted = Read(kind, namespace if kind.namespaced else None, name=name)
        answer = self.answers.get(wanted)
        if answer is None:
            # A LIST of the kind (in that namespace or everywhere) answers a GET as well.
            listed = self.list(kind, namespace if kind.namespaced else None)
            return next((o for o in listed if objects.name(o) == name), None)
        found = _usable(answer).objects
        return found[0] if found else None

    def api_version(self, kind: Kind) -> str | None:
        """The group/version the server served ``kind`` at, when any read of it succeeded."""
        for read, answer in self.answers.items():
            if read.kind == kind and answer.api_version is not None:
                return answer.api_version
        return None

    def has(self, kind: Kind) -> bool:
        """Whether the kind is served (its CRD exists) and readable in this view."""
        return self.api_version(kind) is not None


def _usable(answer: ReadAnswer) -> ReadAnswer:
    if answer.failed is not None:
        raise InputFailed(answer.failed)
    if answer.unavailable is not None:
        raise InputUnavailable(answer.unavailable)
    return answer
