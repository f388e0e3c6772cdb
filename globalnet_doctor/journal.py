"""The fix journal: the prior state of everything a fix run changes, written before the change.

One folder per run under ``$XDG_STATE_HOME/gdoctor/journal/<run-id>/`` holding
``journal.json``; every update replaces it atomically, so a crash leaves the last good state.
``gdoctor undo <run-id>`` restores from it.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from globalnet_doctor.errors import UsageError
from globalnet_doctor.fixspec import (
    FileChange,
    FileWrite,
    HostChange,
    KubeChange,
    RouteChange,
    Step,
    SysctlChange,
)
from globalnet_doctor.host_view import Route
from globalnet_doctor.kinds import Kind

JOURNAL_VERSION = 1


def journal_root() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "gdoctor" / "journal"


def new_run_id(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{moment}-{secrets.token_hex(3)}"


class EntryState(enum.StrEnum):
    """planned → applied, or failed; applied → rolled-back or undone."""

    PLANNED = "planned"
    APPLIED = "applied"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"
    UNDONE = "undone"


@dataclass
class JournalEntry:
    fix: str
    change: Step
    state: EntryState = EntryState.PLANNED
    stored: Any = None
    """The object as the server stored it after the change."""

    def to_json(self) -> dict[str, Any]:
        change = self.change
        if not isinstance(change, KubeChange):
            return {
                "fix": self.fix,
                "host": host_change_to_json(change),
                "state": self.state.value,
                "stored": self.stored,
            }
        return {
            "fix": self.fix,
            "cluster": change.cluster,
            "kind": change.kind.to_json(),
            "namespace": change.namespace,
            "name": change.name,
            "action": change.action,
            "why": change.why,
            "irreversible": change.irreversible,
            "before": change.before,
            "after": change.after,
            "state": self.state.value,
            "stored": self.stored,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalEntry:
        if "host" in data:
            change: Step = host_change_from_json(data["host"])
            return cls(data["fix"], change, EntryState(data["state"]), data["stored"])
        change = KubeChange(
            cluster=data["cluster"],
            kind=Kind.from_json(data["kind"]),
            namespace=data["namespace"],
            name=data["name"],
            before=data["before"],
            after=data["after"],
            why=data["why"],
            irreversible=data["irreversible"],
        )
        return cls(data["fix"], change, EntryState(data["state"]), data.get("stored"))


def _bytes_to_json(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _bytes_from_json(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def host_change_to_json(change: HostChange) -> dict[str, Any]:
    """A host change with its prior state: file bytes (base64, byte for byte), the sysctl's
    value, the route replaced."""
    if isinstance(change, FileChange):
        return {
            "type": "file",
            "path": change.path,
            "realPath": change.real_path,
            "how": change.how.value,
            "backup": change.backup,
            "before": _bytes_to_json(change.before),
            "after": _bytes_to_json(change.after),
            "why": change.why,
            "irreversible": change.irreversible,
        }
    if isinstance(change, SysctlChange):
        return {
            "type": "sysctl",
            "key": change.key,
            "procPath": change.proc_path,
            "before": change.before,
            "after": change.after,
            "why": change.why,
            "irreversible": change.irreversible,
        }
    return {
        "type": "route",
        "destination": change.destination,
        "gateway": change.gateway,
        "device": change.device,
        "table": change.table,
        "before": dataclasses.asdict(change.before) if change.before else None,
        "advice": change.advice,
        "why": change.why,
        "irreversible": change.irreversible,
    }


def host_change_from_json(data: dict[str, Any]) -> HostChange:
    if data["type"] == "file":
        return FileChange(
            path=data["path"],
            real_path=data["realPath"],
            before=_bytes_from_json(data["before"]),
            after=_bytes_from_json(data["after"]) or b"",
            how=FileWrite(data["how"]),
            why=data["why"],
            backup=data["backup"],
            irreversible=data["irreversible"],
        )
    if data["type"] == "sysctl":
        return SysctlChange(
            data["key"],
            data["procPath"],
            data["before"],
            data["after"],
            data["why"],
            data["irreversible"],
        )
    before = data.get("before")
    return RouteChange(
        destination=data["destination"],
        gateway=data["gateway"],
        device=data["device"],
        why=data["why"],
        before=Route(**before) if before else None,
        advice=data.get("advice") or "",
        table=int(data["table"]),
        irreversible=data["irreversible"],
    )


@dataclass
class Journal:
    run_id: str
    path: Path
    kubeconfig: str | None
    contexts: dict[str, str]
    """context -> server, to reach the same clusters on undo."""
    entries: list[JournalEntry] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @classmethod
    def create(cls, kubeconfig: str | None, contexts: dict[str, str]) -> Journal:
        run_id = new_run_id()
        folder = journal_root() / run_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise UsageError(f"cannot create the journal at {folder}: {exc.strerror}") from None
        journal = cls(run_id, folder / "journal.json", kubeconfig, contexts)
        journal.save()
        return journal

    @classmethod
    def load(cls, run_id: str) -> Journal:
        path = journal_root() / run_id / "journal.json"
        if "/" in run_id or not path.is_file():
            raise UsageError(f"no journal for run {run_id!r} under {journal_root()}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"journal {path} is unreadable: {exc}") from None
        if data.get("version") != JOURNAL_VERSION:
            raise UsageError(f"journal {path} has an unknown version {data.get('version')!r}")
        journal = cls(
            data["runId"],
            path,
            data.get("kubeconfig"),
            data["contexts"],
            started_at=data["startedAt"],
        )
        journal.entries = [JournalEntry.from_json(e) for e in data["entries"]]
        return journal

    @property
    def folder(self) -> Path:
        return self.path.parent

    def record(self, fix: str, change: Step) -> JournalEntry:
        """Journals a change before it is applied (its prior state is in ``change.before``)."""
        entry = JournalEntry(fix, change)
        self.entries.append(entry)
        self.save()
        return entry

    def save(self) -> None:
        document = {
            "version": JOURNAL_VERSION,
            "runId": self.run_id,
            "startedAt": self.started_at,
            "kubeconfig": self.kubeconfig,
            "contexts": self.contexts,
            "entries": [e.to_json() for e in self.entries],
        }
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)
