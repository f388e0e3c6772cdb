"""Which failures to fix first: the root-cause graph the checks declare (``Check.explains``).

A failing check explained by no other failing check is a root cause. What it explains is every
failing result of the checks it declares, and of what those declare in turn. Checks that only
explain each other (a cycle) still get a root cause: the one first in catalogue order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from globalnet_doctor.model import CheckResult, RootCause, Status
from globalnet_doctor.spec import Check


def root_causes(checks: Iterable[type[Check]], results: Sequence[CheckResult]) -> list[RootCause]:
    """The failing checks no other failing check explains, those explaining the most first
    (then in catalogue order)."""
    failing: dict[str, list[str]] = {}
    for result in results:
        if result.status is Status.FAIL:
            failing.setdefault(result.check, []).append(result.cluster)
    declared = {c.id: c.explains & failing.keys() for c in checks if c.id in failing}
    roots: list[str] = []
    covered: set[str] = set()
    unexplained = [c for c in sorted(failing) if not any(c in d for d in declared.values())]
    for candidate in [*unexplained, *sorted(failing)]:
        if candidate not in covered:
            roots.append(candidate)
            covered |= {candidate, *_reach(candidate, declared)}
    found = [
        RootCause(
            check=root,
            clusters=tuple(dict.fromkeys(failing[root])),
            explains=tuple(
                (check, cluster)
                for check in sorted(_reach(root, declared))
                for cluster in dict.fromkeys(failing[check])
            ),
        )
        for root in roots
    ]
    return sorted(found, key=lambda r: (-len(r.explains), r.check))


def _reach(start: str, declared: Mapping[str, frozenset[str]]) -> set[str]:
    """Every failing check ``start`` explains, directly or through others (never itself)."""
    seen: set[str] = set()
    todo = list(declared.get(start, ()))
    while todo:
        check = todo.pop()
        if check in seen or check == start:
            continue
        seen.add(check)
        todo.extend(declared.get(check, ()))
    return seen
