"""Reads the machine gdoctor runs on into a HostView; sends no packet and changes nothing.

Netlink through pyroute2 (links, addresses, routes, rules and the kernel's own route lookups),
/proc/sys for runtime sysctls, files for the persisted sysctls and resolv.conf, the files a host
fix rewrites (byte for byte, with where they really live), and the read-only commands a support
bundle records. Probes are ``host_prober``'s, writes ``host_writer``'s.

``root`` makes every file path relative to a directory (tests give the machine a /proc and an
/etc of their own); an explicit ``resolv_conf`` path is used as given.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from globalnet_doctor.adapters._host_common import PROTOCOLS, describe
from globalnet_doctor.host_view import (
    Address,
    HostFile,
    HostView,
    Link,
    ResolvConf,
    Route,
    RouteLookup,
    Rule,
    SysctlAssignment,
    parse_resolv_conf,
    parse_sysctl_file,
)

# systemd-sysctl's directories, highest priority first: a file in /etc masks the file with the
# same name in /run, which masks /usr/local/lib's, which masks /usr/lib's.
SYSCTL_DIRECTORIES = (
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
    "lib/sysctl.d",
)
SYSCTL_CONF = "etc/sysctl.conf"
RESOLV_CONF = "etc/resolv.conf"
# Runtime sysctls host checks read: every interface's rp_filter (with all and default) and
# forwarding.
_SYSCTL_GLOBS = ("proc/sys/net/ipv4/conf/*/rp_filter",)
_SYSCTL_FILES = ("proc/sys/net/ipv4/ip_forward",)
# Persisted assignments kept in the view: the network ones (the rest is noise for a bundle).
_KEPT_SYSCTL_PREFIX = "net/"

_ROUTE_TYPES = {
    0: "unspec",
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
}
_HOST_ROUTE_TYPES = {"local", "broadcast", "anycast", "multicast"}
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_RULE_ACTIONS = {1: "lookup", 2: "goto", 3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
_RTM_F_FIB_MATCH = 0x2000
_IFF_UP = 0x1


@dataclass(frozen=True, slots=True)
class HostSource:
    """Where the host is read from."""

    root: Path = Path("/")
    resolv_conf: Path | None = None
    """An explicit resolv.conf (``--resolv-conf``), used as given; default ROOT/etc/resolv.conf."""

    def path(self, relative: str) -> Path:
        return self.root / relative


def read_host(source: HostSource, lookups: Iterable[str] = ()) -> HostView:
    """The machine's view, with the kernel's route lookups for ``lookups`` and for the
    nameservers of resolv.conf. Sends no packet."""
    view = HostView(
        observed_at=datetime.now(UTC), hostname=socket.gethostname(), root=str(source.root)
    )
    view.resolv_conf = read_resolv_conf(source.resolv_conf or source.path(RESOLV_CONF))
    view.sysctls = read_runtime_sysctls(source.root)
    view.sysctl_files, view.sysctl_assignments, view.sysctl_errors = read_persisted_sysctls(
        source.root
    )
    wanted = list(dict.fromkeys([*lookups, *view.resolv_conf.nameservers]))
    try:
        _read_netlink(view, wanted)
    except Exception as exc:  # netlink refused or pyroute2 missing: the host cannot be judged
        view.error = f"cannot read the network configuration through netlink: {describe(exc)}"
    return view


# -- netlink -----------------------------------------------------------------------------------


def _read_netlink(view: HostView, lookups: Sequence[str]) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        names: dict[int, str] = {}
        links = []
        for message in ipr.get_links():
            name = str(message.get_attr("IFLA_IFNAME"))
            names[int(message["index"])] = name
            info = message.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
            links.append(
                Link(
                    index=int(message["index"]),
                    name=name,
                    up=bool(int(message["flags"]) & _IFF_UP),
                    kind=str(kind) if kind else None,
                    mtu=_int_or_none(message.get_attr("IFLA_MTU")),
                )
            )
        view.links = tuple(links)
        addresses = []
        for message in ipr.get_addr():
            # IFA_LOCAL is the machine's own address (IFA_ADDRESS is the peer on point-to-point
            # links); IPv6 carries only IFA_ADDRESS.
            ip = message.get_attr("IFA_LOCAL") or message.get_attr("IFA_ADDRESS")
            if ip:
                addresses.append(
                    Address(
                        names.get(int(message["index"]), "?"), str(ip), int(message["prefixlen"])
                    )
                )
        view.addresses = tuple(addresses)
        routes: list[Route] = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for message in ipr.get_routes(family=family):
                route = _route(message, names)
                if route.type not in _HOST_ROUTE_TYPES:
                    routes.append(route)
        view.routes = tuple(routes)
        view.rules = tuple(
            _rule(message)
            for family in (socket.AF_INET, socket.AF_INET6)
            for message in ipr.get_rules(family=family)
        )
        view.route_lookups = {ip: _lookup(ipr, ip, names, view.routes) for ip in lookups}


def _route(message: Any, names: dict[int, str]) -> Route:
    family_bits = 32 if message["family"] == socket.AF_INET else 128
    destination = message.get_attr("RTA_DST")
    if destination is None:
        destination = "0.0.0.0" if family_bits == 32 else "::"
    oif = message.get_attr("RTA_OIF")
    return Route(
        destination=f"{destination}/{message['dst_len']}",
        table=int(message.get_attr("RTA_TABLE") or message["table"]),
        type=_ROUTE_TYPES.get(int(message["type"]), str(message["type"])),
        gateway=_str_or_none(message.get_attr("RTA_GATEWAY")),
        interface=names.get(int(oif)) if oif is not None else None,
        source=_str_or_none(message.get_attr("RTA_PREFSRC")),
        protocol=PROTOCOLS.get(int(message["proto"]), str(message["proto"])),
        scope=_SCOPES.get(int(message["scope"]), str(message["scope"])),
        metric=_int_or_none(message.get_attr("RTA_PRIORITY")),
    )


def _rule(message: Any) -> Rule:
    def prefix(attr: str, length: int) -> str | None:
        value = message.get_attr(attr)
        return f"{value}/{length}" if value else None

    mark = message.get_attr("FRA_FWMARK")
    return Rule(
        priority=int(message.get_attr("FRA_PRIORITY") or 0),
        table=int(message.get_attr("FRA_TABLE") or message["table"]),
        action=_RULE_ACTIONS.get(int(message["action"]), str(message["action"])),
        source=prefix("FRA_SRC", int(message["src_len"])),
        destination=prefix("FRA_DST", int(message["dst_len"])),
        input_interface=_str_or_none(message.get_attr("FRA_IIFNAME")),
        output_interface=_str_or_none(message.get_attr("FRA_OIFNAME")),
        fwmark=int(mark) if mark is not None else None,
    )


def _lookup(ipr: Any, ip: str, names: dict[int, str], routes: Sequence[Route]) -> RouteLookup:
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return RouteLookup(ip, error="not an IP address")
    try:
        answers = tuple(ipr.route("get", dst=ip))
    except NetlinkError as exc:
        return RouteLookup(
            ip, error=os.strerror(exc.code), matched=_rejecting_route(ip, exc.code, routes)
        )
    if not answers:
        return RouteLookup(ip, error="the kernel gave no answer")
    answer = answers[0]
    matched: Route | None = None
    try:
        # fibmatch: the route itself (with its prefix), so a finding can tell the default
        # route from a specific one.
        fib = tuple(ipr.route("get", dst=ip, flags=_RTM_F_FIB_MATCH))
        matched = _route(fib[0], names) if fib else None
    except NetlinkError:
        matched = None
    oif = answer.get_attr("RTA_OIF")
    return RouteLookup(
        destination=ip,
        gateway=_str_or_none(answer.get_attr("RTA_GATEWAY")),
        interface=names.get(int(oif)) if oif is not None else None,
        source=_str_or_none(answer.get_attr("RTA_PREFSRC")),
        table=_int_or_none(answer.get_attr("RTA_TABLE")),
        type=_ROUTE_TYPES.get(int(answer["type"]), str(answer["type"])),
        matched=matched,
    )


def _rejecting_route(ip: str, code: int, routes: Sequence[Route]) -> Route | None:
    """The unreachable/blackhole/prohibit route behind a lookup error, when one matches (the
    kernel refuses fibmatch on those)."""
    if code == errno.ENETUNREACH:
        return None
    address = ipaddress.ip_address(ip)
    candidates = [
        (ipaddress.ip_network(r.destination, strict=False), r)
        for r in routes
        if r.type in ("unreachable", "blackhole", "prohibit")
    ]
    matching = [
        (net, r) for net, r in candidates if net.version == address.version and address in net
    ]
    if not matching:
        return None
    return max(matching, key=lambda pair: pair[0].prefixlen)[1]


# -- files -------------------------------------------------------------------------------------


def read_resolv_conf(path: Path) -> ResolvConf:
    target: str | None = None
    if path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ResolvConf(str(path), symlink_target=target, error=_file_error(exc))
    parsed = parse_resolv_conf(str(path), text)
    return ResolvConf(
        parsed.path,
        parsed.nameservers,
        parsed.search,
        parsed.options,
        text,
        symlink_target=target,
    )


def read_runtime_sysctls(root: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    paths = [p for pattern in _SYSCTL_GLOBS for p in sorted(root.glob(pattern))]
    paths += [root / p for p in _SYSCTL_FILES]
    for path in paths:
        try:
            value = path.read_text().strip()
        except OSError:
            continue
        values[str(path.relative_to(root / "proc/sys"))] = value
    return values


def sysctl_file_order(root: Path) -> list[Path]:
    """The persisted sysctl files in the order systemd-sysctl applies them: by file name across
    every directory, a name in a higher-priority directory masking the others, then
    /etc/sysctl.conf (unless a sysctl.d link already read it, as Debian's 99-sysctl.conf does)."""
    chosen: dict[str, Path] = {}
    for directory in SYSCTL_DIRECTORIES:
        folder = root / directory
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".conf") and entry.name not in chosen:
                chosen[entry.name] = entry
    ordered = [chosen[name] for name in sorted(chosen)]
    legacy = root / SYSCTL_CONF
    seen = {os.path.realpath(p) for p in ordered}
    if legacy.exists() and os.path.realpath(legacy) not in seen:
        ordered.append(legacy)
    return ordered


def read_persisted_sysctls(
    root: Path,
) -> tuple[tuple[str, ...], tuple[SysctlAssignment, ...], tuple[str, ...]]:
    files: list[str] = []
    assignments: list[SysctlAssignment] = []
    errors: list[str] = []
    for path in sysctl_file_order(root):
        shown = "/" + str(path.relative_to(root))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{shown}: {_file_error(exc)}")
            continue
        files.append(shown)
        assignments += [
            a for a in parse_sysctl_file(shown, text) if a.key.startswith(_KEPT_SYSCTL_PREFIX)
        ]
    return tuple(files), tuple(assignments), tuple(errors)


def _file_error(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return describe(exc)


def _str_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


# -- commands ----------------------------------------------------------------------------------

# What a support bundle records verbatim from the machine, when the tools exist.
_BUNDLE_COMMANDS: dict[str, list[str]] = {
    "ip xfrm state": ["ip", "xfrm", "state"],
    "ip xfrm policy": ["ip", "xfrm", "policy"],
    "iptables-save": ["iptables-save"],
}
_COMMAND_TIMEOUT = 10.0


def command_outputs() -> dict[str, tuple[str, str | None]]:
    """name -> (output, why it is missing). Read-only commands, bounded in time; their output
    goes through the bundle's redaction (xfrm keys) before it is stored."""
    import subprocess

    outputs: dict[str, tuple[str, str | None]] = {}
    for name, argv in _BUNDLE_COMMANDS.items():
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False
            )
        except FileNotFoundError:
            outputs[name] = ("", f"{argv[0]} is not installed")
            continue
        except subprocess.TimeoutExpired:
            outputs[name] = ("", f"did not finish within {_COMMAND_TIMEOUT:g} s")
            continue
        if done.returncode != 0:
            outputs[name] = ("", f"exit {done.returncode}: {done.stderr.strip()[:200]}")
        else:
            outputs[name] = (done.stdout, None)
    return outputs


# -- the files host fixes rewrite --------------------------------------------------------------


def file_identity(path: str) -> str | None:
    """The file's device and inode: undo restores a file only while it is the one a fix wrote."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{info.st_dev}:{info.st_ino}"


def _unescape_mountinfo(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def mount_points() -> set[str]:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return set()
    return {_unescape_mountinfo(line.split()[4]) for line in lines if len(line.split()) > 4}


def read_host_file(path: str) -> HostFile:
    """A file byte for byte, with where it really lives and whether it is a mount point."""
    target: str | None = None
    if os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = None
    real = os.path.realpath(path)
    mounted = real in mount_points() or path in mount_points()
    try:
        data: bytes | None = Path(real).read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as exc:
        return HostFile(path, real, None, target, mounted, _file_error(exc))
    return HostFile(path, real, data, target, mounted)
