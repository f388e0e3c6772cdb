"""One executor per step type: previewing, applying and restoring, and undo's results."""

from __future__ import annotations

import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from globalnet_doctor import kinds
from globalnet_doctor.adapters.kube import WriteResult
from globalnet_doctor.cli import _undo_line
from globalnet_doctor.config import Settings
from globalnet_doctor.executors import Clusters, Executors
from globalnet_doctor.fixer import UndoResult, UndoState, undo
from globalnet_doctor.fixspec import FileChange, FileWrite, KubeChange, Step, SysctlChange
from globalnet_doctor.journal import EntryState, Journal
from globalnet_doctor.kube_executor import KubeExecutor
from globalnet_doctor.kubeconfig import Target


def test_every_step_type_has_an_executor() -> None:
    executors = Executors(Clusters([], 1.0))
    for step_type in typing.get_args(Step):
        assert executors.covers(step_type), step_type


class _Writer:
    """A cluster that answers every write with 200 and records it."""

    def __init__(self, objects: dict[str, Any] | None = None) -> None:
        self.sent: list[tuple[str, str, bool]] = []
        self.objects = objects or {}

    def get(self, kind: Any, like: Any) -> Any:
        return self.objects.get(like["metadata"]["name"])

    def create(self, kind: Any, obj: Any, dry_run: bool = False) -> WriteResult:
        self.sent.append(("create", obj["metadata"]["name"], dry_run))
        return WriteResult(201, stored=obj)

    def update(self, kind: Any, obj: Any, dry_run: bool = False) -> WriteResult:
        self.sent.append(("update", obj["metadata"]["name"], dry_run))
        return WriteResult(409, "the object has been modified")

    def delete(self, kind: Any, obj: Any, dry_run: bool = False) -> WriteResult:
        self.sent.append(("delete", obj["metadata"]["name"], dry_run))
        return WriteResult(200)


def _clusters(writer: _Writer) -> Clusters:
    @contextmanager
    def connect(target: Target, timeout: float) -> Any:
        yield writer

    return Clusters([Target("m1", "https://m1", None)], 1.0, connect)  # type: ignore[arg-type]


def _pod(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **metadata}}


def _change(before: Any, after: Any, cluster: str = "m1") -> KubeChange:
    name = (before or after)["metadata"]["name"]
    return KubeChange(cluster, kinds.PODS, "ns", name, before, after, "why")


def test_a_create_after_a_delete_of_the_same_object_is_not_sent_in_a_dry_run() -> None:
    writer = _Writer()
    changes = [_change(_pod("a"), None), _change(None, _pod("a")), _change(None, _pod("b"))]
    answers = Executors(_clusters(writer)).preview(changes)
    assert answers == ["ok", "not sent: it exists until the delete above is applied", "ok"]
    assert writer.sent == [("delete", "a", True), ("create", "b", True)]


def test_an_applied_object_says_what_the_server_answered() -> None:
    executor = KubeExecutor(_clusters(_Writer()))
    created = executor.apply(_change(None, _pod("a")))
    assert (created.ok, created.answer, created.stored) == (True, "ok", _pod("a"))
    refused = executor.apply(_change(_pod("a"), _pod("a", labels={"x": "y"})))
    assert (refused.ok, refused.conflict) == (False, True)
    assert refused.answer == "HTTP 409: the object has been modified"


def test_restoring_a_created_object_deletes_it_and_a_gone_one_is_done() -> None:
    writer = _Writer({"a": _pod("a", uid="1")})
    executor = KubeExecutor(_clusters(writer))
    assert executor.restore(_change(None, _pod("a")), None).ok
    assert executor.restore(_change(None, _pod("gone")), None).ok
    assert writer.sent == [("delete", "a", False)]


def test_restoring_an_updated_object_puts_the_prior_back_at_the_current_version() -> None:
    writer = _Writer({"a": _pod("a", resourceVersion="7")})
    restored = KubeExecutor(_clusters(writer)).restore(
        _change(_pod("a", resourceVersion="3", uid="u"), _pod("a", labels={"x": "y"})), None
    )
    assert (restored.ok, restored.problem) == (False, "HTTP 409 the object has been modified")
    assert writer.sent == [("update", "a", False)]


def test_a_file_is_backed_up_in_the_journal_folder_written_and_restored(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_bytes(b"nameserver 1.1.1.1\n")
    executors = Executors(Clusters([], 1.0))
    planned = FileChange(
        str(path), str(path), b"nameserver 1.1.1.1\n", b"nameserver 2.2.2.2\n",
        FileWrite.RENAME, "why",
    )  # fmt: skip
    change = executors.prepare(planned, tmp_path / "backups", 3)
    assert isinstance(change, FileChange)
    assert change.backup == str(tmp_path / "backups" / "3-resolv.conf")
    assert executors.preview([change]) == ["ok"]
    applied = executors.apply(change)
    assert (applied.ok, applied.answer) == (True, "ok")
    assert path.read_bytes() == b"nameserver 2.2.2.2\n"
    assert Path(change.backup).read_bytes() == b"nameserver 1.1.1.1\n"
    assert executors.restore(change, applied.stored).ok
    assert path.read_bytes() == b"nameserver 1.1.1.1\n"


def test_a_sysctl_is_restored_only_in_the_namespace_it_was_set_in(tmp_path: Path) -> None:
    executors = Executors(Clusters([], 1.0))
    change = SysctlChange("net/x", str(tmp_path / "x"), "1", "2", "why")
    refused = executors.restore(change, {"netns": "0:0"})
    assert not refused.ok
    assert "not in the network namespace the fix ran in" in refused.problem
    unknown = SysctlChange("net/x", str(tmp_path / "x"), None, "2", "why")
    assert executors.restore(unknown, None).problem == "its prior value was not readable"


def test_undo_says_what_became_of_each_applied_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    path = tmp_path / "f"
    path.write_bytes(b"after\n")
    journal = Journal.create(None, {})
    restorable = FileChange(str(path), str(path), b"before\n", b"after\n", FileWrite.RENAME, "w")
    replaced = tmp_path / "replaced"
    replaced.write_bytes(b"theirs\n")
    broken = FileChange(str(replaced), str(replaced), b"x\n", b"y\n", FileWrite.RENAME, "w")
    pods = KubeChange("elsewhere", kinds.PODS, "ns", "p", _pod("p"), None, "restart", True)
    label = _change(_pod("n"), _pod("n", labels={"a": "b"}), cluster="elsewhere")
    for change in (restorable, broken, pods, label):
        journal.record("GD000", change).state = EntryState.APPLIED
    journal.entries[1].stored = {"identity": "0:0"}  # another file is there now
    journal.record("GD000", label).state = EntryState.FAILED
    results = undo(journal, [], Settings())
    assert [r.state for r in results] == [
        UndoState.NOT_REACHED,
        UndoState.IRREVERSIBLE,
        UndoState.FAILED,
        UndoState.UNDONE,
    ]
    assert path.read_bytes() == b"before\n"
    assert [e.state for e in Journal.load(journal.run_id).entries] == [
        EntryState.UNDONE, EntryState.APPLIED, EntryState.APPLIED, EntryState.APPLIED,
        EntryState.FAILED,
    ]  # fmt: skip
    assert [_undo_line(r) for r in results] == [
        "not undone: context elsewhere is not in the kubeconfig",
        "cannot undo (irreversible): delete Pod ns/p in elsewhere (restart)",
        f"failed to undo {broken.describe()}: {replaced} is not the file the fix wrote "
        "(replaced since, or seen from another mount namespace)",
        f"undone: {restorable.describe()}",
    ]


def test_an_undo_line_per_state() -> None:
    change = _change(_pod("a"), _pod("a", labels={"x": "y"}))
    failed = UndoResult(change, UndoState.FAILED, "HTTP 403 forbidden")
    assert _undo_line(failed) == "failed to undo update Pod ns/a in m1: HTTP 403 forbidden"
