"""Writes to the machine for host fixes and undoes those writes: files, runtime sysctls, routes.

Every write checks first that what is there is still what the plan was computed from (the
file's bytes, the sysctl's value, the route's absence): a change made since is a conflict the
fixer answers by planning again, never by overwriting it.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globalnet_doctor.adapters._host_common import PROTOCOLS, describe
from globalnet_doctor.adapters.host_reader import file_identity


@dataclass(frozen=True, slots=True)
class HostWrite:
    """The outcome of one write to the machine."""

    ok: bool
    message: str = ""
    conflict: bool = False
    """What is there is no longer what the plan was computed from."""
    stored: dict[str, Any] | None = None
    """What the journal keeps to undo it safely (the file's identity, the namespace's)."""


def network_namespace() -> str:
    """The identity of this process's network namespace: undo refuses to restore sysctls and
    routes from another one (running ``gdoctor undo`` outside ``ip netns exec`` would change the
    machine's own)."""
    info = os.stat("/proc/self/ns/net")
    return f"{info.st_dev}:{info.st_ino}"


def _current_bytes(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def _fsync_directory(directory: str) -> None:
    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _replace_by_rename(path: str, data: bytes, like: str | None = None) -> None:
    """Writes ``data`` to a temporary file in ``path``'s directory and renames it over
    ``path``: a reader sees the old file or the new one, never a part. Mode and owner follow
    ``like`` (the file replaced) when it exists."""
    directory = os.path.dirname(path) or "."
    # A file created where its directory is missing (no /etc/sysctl.d yet): make it.
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.gdoctor-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if like is not None and os.path.exists(like):
            info = os.stat(like)
            os.chmod(temporary, info.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):
                os.chown(temporary, info.st_uid, info.st_gid)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _write_in_place(path: str, data: bytes) -> None:
    """Overwrites the file's bytes without replacing the file (a bind mount's source stays the
    mounted one): new bytes first, then the length, then fsync."""
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate(len(data))
        handle.flush()
        os.fsync(handle.fileno())


def write_file(
    real_path: str, before: bytes | None, after: bytes, in_place: bool, backup: str | None
) -> HostWrite:
    """Replaces the file's bytes (by rename in its directory, or in place on a bind mount),
    copying the prior bytes to ``backup`` first."""
    try:
        current = _current_bytes(real_path)
        if current != before:
            return HostWrite(False, f"{real_path} changed since it was read", conflict=True)
        if backup is not None and before is not None:
            os.makedirs(os.path.dirname(backup) or ".", exist_ok=True)
            _replace_by_rename(backup, before, like=real_path)
        if in_place and before is not None:
            _write_in_place(real_path, after)
        else:
            _replace_by_rename(real_path, after, like=real_path)
    except OSError as exc:
        return HostWrite(False, f"{real_path}: {describe(exc)}")
    return HostWrite(True, "ok", stored={"identity": file_identity(real_path)})


def restore_file(
    real_path: str, before: bytes | None, in_place: bool, identity: str | None
) -> HostWrite:
    """Puts the prior bytes back (or removes a file the fix created), only when the file there
    is still the one the fix wrote: another mount namespace (undo run outside ``ip netns
    exec``) or a replaced file is left alone."""
    current = file_identity(real_path)
    if identity is not None and current != identity:
        return HostWrite(
            False,
            f"{real_path} is not the file the fix wrote (replaced since, or seen from another "
            "mount namespace)",
        )
    try:
        if before is None:
            os.unlink(real_path)
            _fsync_directory(os.path.dirname(real_path) or ".")
        elif in_place:
            _write_in_place(real_path, before)
        else:
            _replace_by_rename(real_path, before, like=real_path)
    except OSError as exc:
        return HostWrite(False, f"{real_path}: {describe(exc)}")
    return HostWrite(True, "ok")


def read_sysctl(proc_path: str) -> str | None:
    try:
        return Path(proc_path).read_text().strip()
    except OSError:
        return None


def write_sysctl(proc_path: str, before: str | None, value: str) -> HostWrite:
    """Sets a runtime sysctl through its /proc/sys file (under ``--root``)."""
    current = read_sysctl(proc_path)
    if before is not None and current != before:
        return HostWrite(False, f"{proc_path} is {current}, not {before} as read", conflict=True)
    try:
        with open(proc_path, "w") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        return HostWrite(False, f"{proc_path}: {describe(exc)}")
    if read_sysctl(proc_path) != value:
        return HostWrite(False, f"{proc_path} did not take the value {value}")
    return HostWrite(True, "ok", stored={"netns": network_namespace()})


def change_route(
    action: str,
    destination: str,
    gateway: str | None,
    device: str | None,
    table: int = 254,
    protocol: str | None = None,
) -> HostWrite:
    """``ip route add|replace|del DESTINATION via GATEWAY dev DEVICE`` through netlink
    (``proto static`` unless ``protocol`` names another, as a route put back on undo does)."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        with IPRoute() as ipr:
            fields: dict[str, Any] = {"dst": destination, "table": table}
            numbers = {name: number for number, name in PROTOCOLS.items()}
            if protocol in numbers:
                fields["proto"] = numbers[protocol]
            if gateway:
                fields["gateway"] = gateway
            if device:
                found = ipr.link_lookup(ifname=device)
                if not found:
                    return HostWrite(False, f"no interface {device}")
                fields["oif"] = found[0]
            ipr.route(action, **fields)
    except NetlinkError as exc:
        exists = exc.code == errno.EEXIST
        return HostWrite(False, f"ip route {action} {destination}: {os.strerror(exc.code)}", exists)
    except OSError as exc:
        return HostWrite(False, f"ip route {action} {destination}: {describe(exc)}")
    return HostWrite(True, "ok", stored={"netns": network_namespace()})


def route_exists(destination: str, table: int = 254) -> bool:
    from pyroute2 import IPRoute

    network = ipaddress.ip_network(destination, strict=False)
    family = socket.AF_INET if network.version == 4 else socket.AF_INET6
    with IPRoute() as ipr:
        for message in ipr.get_routes(family=family, table=table):
            dst = message.get_attr("RTA_DST")
            if dst is not None and f"{dst}/{message['dst_len']}" == str(network):
                return True
    return False


def writable(path: str) -> str | None:
    """None when ``path`` (or, for a file to create, its directory) can be written, else why."""
    if os.path.exists(path):
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    directory = os.path.dirname(path) or "."
    while not os.path.isdir(directory) and directory not in ("/", "."):
        directory = os.path.dirname(directory)  # created on the way
    return None if os.access(directory, os.W_OK) else f"{directory} is not writable"
