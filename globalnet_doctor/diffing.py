"""`gdoctor diff`: what changed between two runs, as the checks judge each side.

A side is a JSON report (`check -o json`) or a support bundle. A bundle is analysed again from
the objects it recorded (the report stored inside it may be outdated or edited), so both sides
say what this gdoctor's checks say. Findings are keyed by check, cluster and resource, several
findings about one resource kept apart; a cluster that was read on one side and not on the
other makes its findings unknown there, never "gone".
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globalnet_doctor import shapes
from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import ExitCode
from globalnet_doctor.terminal import printable

MAX_REPORT_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_STATUSES = frozenset({"pass", "fail", "skip", "error"})

Key = tuple[str, str, str]
"""(check, cluster, subject): the subject is the first resource, else the message."""


class ChangeKind(enum.StrEnum):
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"
    CHANGED = "changed"
    UNKNOWN = "unknown"
    """A finding of one side whose cluster or check gave no verdict on the other side."""
    STATUS = "status"
    """A result's status moved to or from skip or error (pass and fail show as findings)."""
    REACHABILITY = "reachability"


FINDING_CHANGES = frozenset({ChangeKind.APPEARED, ChangeKind.DISAPPEARED, ChangeKind.CHANGED})


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    key: Key
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    changed_fields: tuple[str, ...] = ()
    """For CHANGED: which parts of the finding differ (severity, message, evidence.<key>...)."""
    note: str = ""
    """For UNKNOWN, STATUS and REACHABILITY: why, in words."""


@dataclass(frozen=True)
class Side:
    """One side of the diff: a validated report, and whether its run was complete."""

    report: Mapping[str, Any]
    unreachable: Mapping[str, str] = field(default_factory=dict)
    """cluster -> why it was not read."""

    @property
    def incomplete(self) -> bool:
        return bool(self.unreachable) or any(r["status"] == "error" for r in self.report["results"])


# -- reading a side -----------------------------------------------------------------------------


def load_side(path: Path) -> Side:
    """A JSON report or a bundle (told apart by content, not by name), validated."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not a report or a bundle")
    try:
        with path.open("rb") as stream:
            head = stream.read(2)
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    report = _analysed_bundle(path) if head == _GZIP_MAGIC else _json_report(path)
    validated = validated_report(report, path)
    unreachable = {
        c["name"]: str(c.get("error") or "unreachable")
        for c in validated["clusters"]
        if not c["reachable"]
    }
    return Side(validated, unreachable)


def _json_report(path: Path) -> Any:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise UsageError(f"{path} is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
    try:
        return json.loads(data)
    except RecursionError:
        raise UsageError(f"{path} is nested too deeply to be a gdoctor report") from None
    except ValueError as exc:
        raise UsageError(f"{path} is neither a JSON report nor a bundle: {exc}") from None


def _analysed_bundle(path: Path) -> dict[str, Any]:
    """The report this gdoctor's checks give on what the bundle recorded."""
    from globalnet_doctor.bundle import BundleError, read_bundle
    from globalnet_doctor.collect import replay
    from globalnet_doctor.formatters.json import report_to_dict
    from globalnet_doctor.registry import load_registry

    try:
        report = replay(read_bundle(path), load_registry().checks, frozenset())
    except BundleError as exc:
        raise UsageError(f"cannot use bundle {path}: {exc}") from None
    return report_to_dict(report)


_TEXT_OR_NULL = (str, None)
FINDING_SHAPE = {
    "message": str,
    "severity": str,
    "resources?": [{"kind": str, "name": str, "namespace?": _TEXT_OR_NULL, "cluster?": str}],
    "relatedClusters?": [str],
}
REPORT_SHAPE = {
    "schemaVersion": int,
    "clusters?": [{"name": str, "reachable": bool, "error?": _TEXT_OR_NULL}],
    "results": [
        {
            "check": str,
            "cluster": str,
            "status": str,
            "findings?": [FINDING_SHAPE],
            "skipReason?": _TEXT_OR_NULL,
            "error?": _TEXT_OR_NULL,
        }
    ],
}


def validated_report(report: Any, path: Path) -> dict[str, Any]:
    """``report`` if it has the shape of a gdoctor JSON report (the parts diff uses), else a
    usage error naming the first part that is wrong."""
    if not isinstance(report, dict) or report.get("schemaVersion") != 1:
        raise UsageError(f"{path}: not a gdoctor report (schemaVersion 1)")
    try:
        shapes.check(report, REPORT_SHAPE, "report")
    except shapes.ShapeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    for index, result in enumerate(report["results"]):
        if result["status"] not in _STATUSES:
            raise UsageError(
                f"{path}: report.results[{index}].status is not one of {sorted(_STATUSES)}"
            )
    report.setdefault("clusters", [])
    return report


# -- comparing ----------------------------------------------------------------------------------


def finding_key(result: Mapping[str, Any], finding: Mapping[str, Any]) -> Key:
    resources = finding.get("resources") or []
    if resources:
        first = resources[0]
        where = f"{first['namespace']}/" if first.get("namespace") else ""
        subject = f"{first['kind']} {where}{first['name']}"
    else:
        subject = finding["message"]
    return (result["check"], result["cluster"], subject)


def _grouped(report: Mapping[str, Any]) -> dict[Key, list[Mapping[str, Any]]]:
    groups: dict[Key, list[Mapping[str, Any]]] = {}
    for result in report["results"]:
        for finding in result.get("findings", []):
            groups.setdefault(finding_key(result, finding), []).append(finding)
    return groups


def _statuses(report: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(r["check"], r["cluster"]): r for r in report["results"]}


def _comparable(finding: Mapping[str, Any]) -> str:
    return json.dumps(
        [finding.get("severity"), finding.get("message"), finding.get("evidence")],
        sort_keys=True,
    )


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The parts of a finding that differ: severity, message, and each evidence key."""
    fields = [k for k in ("severity", "message") if old.get(k) != new.get(k)]
    before, after = old.get("evidence"), new.get("evidence")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        fields += [f"evidence.{k}" for k in keys if before.get(k) != after.get(k)]
    elif before != after:
        fields.append("evidence")
    return tuple(fields)


def _paired(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> tuple[list[tuple[Mapping[str, Any], Mapping[str, Any]]], list[Any], list[Any]]:
    """Findings of one subject matched across the sides: identical ones first, then those with
    the same message, then in order. Returns (changed pairs, only before, only after)."""
    left, right = list(before), list(after)
    for finding in list(left):
        twin = next((f for f in right if _comparable(f) == _comparable(finding)), None)
        if twin is not None:
            left.remove(finding)
            right.remove(twin)
    pairs = []
    for finding in list(left):
        same = next((f for f in right if f.get("message") == finding.get("message")), None)
        if same is not None:
            pairs.append((finding, same))
            left.remove(finding)
            right.remove(same)
    while left and right:
        pairs.append((left.pop(0), right.pop(0)))
    return pairs, left, right


def _no_verdict(
    side: Side, check: str, cluster: str, finding: Mapping[str, Any] | None = None
) -> str | None:
    """Why ``side`` says nothing about (check, cluster), when it could not judge it: the
    cluster, or a cluster the finding is about (a host finding on a Service of member2), was
    not read, or the check did not run or ended in an error."""
    about = [cluster, *_clusters_named(finding)] if finding is not None else [cluster]
    for name in dict.fromkeys(about):
        if name in side.unreachable:
            return f"{name} was unreachable: {side.unreachable[name]}"
    result = _statuses(side.report).get((check, cluster))
    if result is None:
        return f"{check} did not run on {cluster}"
    if result["status"] == "error":
        return f"{check} ended in an error on {cluster}"
    return None


def _clusters_named(finding: Mapping[str, Any]) -> list[str]:
    named = [r.get("cluster") for r in finding.get("resources") or []]
    named += list(finding.get("relatedClusters") or [])
    return [n for n in named if isinstance(n, str)]


def diff_sides(old: Side, new: Side) -> list[Change]:
    changes = _reachability(old, new)
    before, after = _grouped(old.report), _grouped(new.report)
    for key in sorted(set(before) | set(after)):
        pairs, gone, came = _paired(before.get(key, []), after.get(key, []))
        for was, now in pairs:
            changes.append(Change(ChangeKind.CHANGED, key, was, now, changed_fields(was, now)))
        changes += [_one_sided(key, finding, None, new) for finding in gone]
        changes += [_one_sided(key, None, finding, old) for finding in came]
    return changes + _status_changes(old, new)


def _one_sided(
    key: Key, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, other: Side
) -> Change:
    """A finding present on one side only: gone or new, unless ``other`` (the side without
    it) could not judge it."""
    finding = old if old is not None else new
    assert finding is not None
    unknown = _no_verdict(other, key[0], key[1], finding)
    if unknown is not None:
        return Change(ChangeKind.UNKNOWN, key, old, new, note=unknown)
    return Change(ChangeKind.DISAPPEARED if new is None else ChangeKind.APPEARED, key, old, new)


def _reachability(old: Side, new: Side) -> list[Change]:
    changes = []
    for cluster in sorted(set(old.unreachable) ^ set(new.unreachable)):
        if cluster in new.unreachable:
            note = f"became unreachable: {new.unreachable[cluster]}"
        else:
            note = "is reachable again"
        changes.append(Change(ChangeKind.REACHABILITY, ("", cluster, ""), None, None, note=note))
    return changes


def _status_changes(old: Side, new: Side) -> list[Change]:
    before, after = _statuses(old.report), _statuses(new.report)
    changes = []
    for check, cluster in sorted(set(before) & set(after)):
        was, now = before[check, cluster], after[check, cluster]
        statuses = {was["status"], now["status"]}
        if was["status"] == now["status"] or not statuses & {"skip", "error"}:
            continue
        if cluster in new.unreachable or cluster in old.unreachable:
            continue  # said once, by the reachability line
        why = now.get("skipReason") or now.get("error") or ""
        note = f"{was['status']} -> {now['status']}" + (f" ({why})" if why else "")
        changes.append(Change(ChangeKind.STATUS, (check, cluster, ""), was, now, note=note))
    return changes


def exit_code(changes: Iterable[Change], old: Side, new: Side) -> ExitCode:
    """1 when findings or statuses changed; 3 when nothing did but a side could not judge
    everything; else 0."""
    kinds = {c.kind for c in changes}
    if kinds & (FINDING_CHANGES | {ChangeKind.STATUS}):
        return ExitCode.FINDINGS
    if old.incomplete or new.incomplete or kinds:
        return ExitCode.INCOMPLETE
    return ExitCode.OK


# -- rendering ----------------------------------------------------------------------------------

_MARKS = {
    ChangeKind.APPEARED: "+",
    ChangeKind.DISAPPEARED: "-",
    ChangeKind.CHANGED: "~",
    ChangeKind.UNKNOWN: "?",
    ChangeKind.STATUS: ">",
    ChangeKind.REACHABILITY: "!",
}


def render_text(changes: Sequence[Change]) -> str:
    if not changes:
        return "no findings appeared, disappeared or changed\n"
    lines = []
    for change in changes:
        check, cluster, subject = (printable(part) for part in change.key)
        mark = _MARKS[change.kind]
        if change.kind is ChangeKind.REACHABILITY:
            lines.append(f"{mark} {cluster} {printable(change.note)}")
            continue
        if change.kind is ChangeKind.STATUS:
            lines.append(f"{mark} {check} {cluster}: {printable(change.note)}")
            continue
        finding = change.new or change.old or {}
        lines.append(f"{mark} {check} {cluster} {subject}: {_said(finding)}")
        if change.kind is ChangeKind.UNKNOWN:
            side = "now" if change.new is None else "before"
            lines.append(f"    unknown {side}: {printable(change.note)}")
        if change.kind is ChangeKind.CHANGED and change.old is not None:
            lines.append(f"    changed: {', '.join(printable(f) for f in change.changed_fields)}")
            lines.append(f"    was: {_said(change.old)}")
    return "\n".join(lines) + "\n"


def _said(finding: Mapping[str, Any]) -> str:
    return f"[{printable(str(finding.get('severity')))}] {printable(str(finding.get('message')))}"


def render_json(changes: Sequence[Change]) -> str:
    return (
        json.dumps(
            [
                {
                    "change": c.kind.value,
                    "check": c.key[0] or None,
                    "cluster": c.key[1],
                    "subject": c.key[2] or None,
                    "old": c.old,
                    "new": c.new,
                    "changedFields": list(c.changed_fields),
                    "note": c.note or None,
                }
                for c in changes
            ],
            indent=2,
        )
        + "\n"
    )
