"""The executors of the machine's steps: files, sysctls, routes, through the host adapter.

The machine cannot judge a change without making it, so a preview checks that it could be made
(the file or directory is writable, no route is in the way). Sysctls and routes are restored
only from the network namespace the fix ran in, files only while the file is the one the fix
wrote.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# The one import of the host adapter's writing functions.
from globalnet_doctor.adapters import host_writer
from globalnet_doctor.fixspec import FileChange, FileWrite, RouteChange, SysctlChange
from globalnet_doctor.step_execution import Applied, Restored


def _applied(result: host_writer.HostWrite) -> Applied:
    return Applied(result.ok, result.message, result.conflict, result.stored)


def _restored(result: host_writer.HostWrite) -> Restored:
    return Restored(result.ok, result.message)


def _judged(problem: str | None) -> str:
    return "ok" if problem is None else problem


def _elsewhere(stored: Mapping[str, Any] | None) -> Restored | None:
    """Refuses to restore from another network namespace than the fix's: run outside ``ip
    netns exec``, undo would change the machine's own sysctls and routes."""
    recorded = stored or {}
    if recorded.get("netns") in (None, host_writer.network_namespace()):
        return None
    return Restored(
        False,
        "not in the network namespace the fix ran in (run gdoctor undo where gdoctor fix "
        "ran, e.g. under the same `ip netns exec`)",
    )


class FileExecutor:
    def prepare(self, change: FileChange, backups: Path, index: int) -> FileChange:
        if change.backup is not None:
            return change
        # The prior bytes are copied into the run's journal folder: gdoctor never litters the
        # directory of a bind mount (the machine's own /etc).
        base = change.real_path.rstrip("/").rsplit("/", 1)[-1] or "file"
        return dataclasses.replace(change, backup=str(backups / f"{index}-{base}"))

    def preview(self, change: FileChange, earlier: Sequence[FileChange]) -> str:
        return _judged(host_writer.writable(change.real_path))

    def apply(self, change: FileChange) -> Applied:
        in_place = change.how is FileWrite.IN_PLACE
        return _applied(
            host_writer.write_file(
                change.real_path, change.before, change.after, in_place, change.backup
            )
        )

    def restore(self, change: FileChange, stored: Any) -> Restored:
        identity = (stored or {}).get("identity")
        in_place = change.how is FileWrite.IN_PLACE
        return _restored(
            host_writer.restore_file(change.real_path, change.before, in_place, identity)
        )


class SysctlExecutor:
    def prepare(self, change: SysctlChange, backups: Path, index: int) -> SysctlChange:
        return change

    def preview(self, change: SysctlChange, earlier: Sequence[SysctlChange]) -> str:
        return _judged(host_writer.writable(change.proc_path))

    def apply(self, change: SysctlChange) -> Applied:
        return _applied(host_writer.write_sysctl(change.proc_path, change.before, change.after))

    def restore(self, change: SysctlChange, stored: Any) -> Restored:
        refused = _elsewhere(stored)
        if refused is not None:
            return refused
        if change.before is None:
            return Restored(False, "its prior value was not readable")
        return _restored(host_writer.write_sysctl(change.proc_path, change.after, change.before))


class RouteExecutor:
    def prepare(self, change: RouteChange, backups: Path, index: int) -> RouteChange:
        return change

    def preview(self, change: RouteChange, earlier: Sequence[RouteChange]) -> str:
        exists = change.before is None and host_writer.route_exists(
            change.destination, change.table
        )
        return _judged(f"a route for {change.destination} exists already" if exists else None)

    def apply(self, change: RouteChange) -> Applied:
        action = "add" if change.before is None else "replace"
        return _applied(
            host_writer.change_route(
                action, change.destination, change.gateway, change.device, change.table
            )
        )

    def restore(self, change: RouteChange, stored: Any) -> Restored:
        refused = _elsewhere(stored)
        if refused is not None:
            return refused
        prior = change.before
        if prior is None:
            return _restored(
                host_writer.change_route(
                    "del", change.destination, change.gateway, change.device, change.table
                )
            )
        return _restored(
            host_writer.change_route(
                "replace",
                prior.destination,
                prior.gateway,
                prior.interface,
                prior.table,
                prior.protocol,
            )
        )
