"""The only module that touches the machine gdoctor runs on: reads its HostView, sends probes.

Netlink through pyroute2 (links, addresses, routes, rules and the kernel's own route lookups),
/proc/sys for runtime sysctls, files for the persisted sysctls and resolv.conf. Reading sends
no packet. Probes (DNS with dnspython, TCP connects, ICMP with scapy) are sent only when asked;
every wait is bounded and each answer is recorded in the view. scapy is imported only when an
ICMP probe is sent, because importing it costs about a second.

``root`` makes every file path relative to a directory (tests give the machine a /proc and an
/etc of their own); an explicit ``resolv_conf`` path is used as given.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import random
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from globalnet_doctor.host_view import (
    Address,
    DnsAnswer,
    DnsQuery,
    HostFile,
    HostProbe,
    HostProbeAnswer,
    HostView,
    IcmpAnswer,
    IcmpEcho,
    IcmpOutcome,
    Link,
    ResolvConf,
    Route,
    RouteLookup,
    Rule,
    SysctlAssignment,
    TcpAnswer,
    TcpConnect,
    TcpOutcome,
    parse_resolv_conf,
    parse_sysctl_file,
)

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0
"""Seconds any one probe may wait for its answer."""
_PARALLEL_PROBES = 64
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
_PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
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
        view.error = f"cannot read the network configuration through netlink: {_describe(exc)}"
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
        protocol=_PROTOCOLS.get(int(message["proto"]), str(message["proto"])),
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
    return _describe(exc)


# -- probes ------------------------------------------------------------------------------------


def send_probes(
    view: HostView, probes: Sequence[HostProbe], timeout: float = PROBE_TIMEOUT
) -> None:
    """Sends every probe (DNS and TCP in parallel, ICMP in one scapy exchange alongside) and
    records each answer in the view. Nothing waits longer than ``timeout`` per probe."""
    unique = list(dict.fromkeys(probes))
    echoes = [p for p in unique if isinstance(p, IcmpEcho)]
    others = [p for p in unique if not isinstance(p, IcmpEcho)]
    answers: dict[HostProbe, HostProbeAnswer] = {}
    with ThreadPoolExecutor(_PARALLEL_PROBES, thread_name_prefix="probe") as pool:
        icmp = pool.submit(_send_echoes, echoes, timeout) if echoes else None
        senders: list[tuple[HostProbe, Callable[[], HostProbeAnswer]]] = []
        for probe in others:
            if isinstance(probe, DnsQuery):
                senders.append((probe, _dns_sender(probe, timeout)))
            elif isinstance(probe, TcpConnect):
                senders.append((probe, _tcp_sender(probe, timeout)))
        futures = [(sent, pool.submit(send)) for sent, send in senders]
        for sent, future in futures:
            answers[sent] = future.result()
        if icmp is not None:
            answers.update(icmp.result())
    view.probe_answers.update(answers)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _dns_sender(query: DnsQuery, timeout: float) -> Callable[[], DnsAnswer]:
    def send() -> DnsAnswer:
        try:
            import dns.exception
            import dns.message
            import dns.query
            import dns.rcode
            import dns.rdatatype
        except ImportError:
            return DnsAnswer(not_sent="dnspython is not installed")
        name = query.name if query.name.endswith(".") else query.name + "."
        rdtype = dns.rdatatype.from_text(query.record_type)
        message = dns.message.make_query(name, rdtype)
        started = time.monotonic()
        try:
            response, _ = dns.query.udp_with_fallback(message, query.nameserver, timeout=timeout)
        except dns.exception.Timeout:
            return DnsAnswer(error=f"timeout after {timeout:g} s", elapsed_ms=_elapsed_ms(started))
        except OSError as exc:
            return DnsAnswer(error=_describe(exc), elapsed_ms=_elapsed_ms(started))
        except Exception as exc:  # malformed answers and the like: recorded, never raised
            return DnsAnswer(error=_describe(exc), elapsed_ms=_elapsed_ms(started))
        addresses = tuple(
            item.to_text()
            for rrset in response.answer
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
            for item in rrset
        )
        return DnsAnswer(
            rcode=dns.rcode.to_text(response.rcode()),
            addresses=addresses,
            elapsed_ms=_elapsed_ms(started),
        )

    return send


def _tcp_sender(probe: TcpConnect, timeout: float) -> Callable[[], TcpAnswer]:
    def send() -> TcpAnswer:
        started = time.monotonic()
        try:
            with socket.create_connection((probe.address, probe.port), timeout=timeout):
                return TcpAnswer(TcpOutcome.CONNECTED, elapsed_ms=_elapsed_ms(started))
        except ConnectionRefusedError:
            outcome, detail = TcpOutcome.REFUSED, "connection refused"
        except TimeoutError:
            outcome, detail = TcpOutcome.TIMEOUT, f"no answer within {timeout:g} s"
        except OSError as exc:
            unreachable = exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
            outcome = TcpOutcome.UNREACHABLE if unreachable else TcpOutcome.FAILED
            detail = _describe(exc)
        return TcpAnswer(outcome, detail, _elapsed_ms(started))

    return send


_ICMP_ERRORS = {
    3: "destination unreachable",
    5: "redirect",
    11: "time exceeded",
    12: "parameter problem",
}
_UNREACHABLE_CODES = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "communication administratively prohibited",
}


def raw_sockets_allowed() -> str | None:
    """None when this process may open raw sockets, else why not."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        return "raw sockets need CAP_NET_RAW (run gdoctor as root for ICMP probes)"
    except OSError as exc:
        return f"cannot open a raw socket: {_describe(exc)}"
    probe.close()
    return None


def _is_ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False


def _send_echoes(echoes: Sequence[IcmpEcho], timeout: float) -> dict[HostProbe, HostProbeAnswer]:
    ipv4 = [e for e in echoes if _is_ipv4(e.address)]
    answers: dict[HostProbe, HostProbeAnswer] = {
        e: IcmpAnswer(IcmpOutcome.NOT_SENT, detail="ICMP probes are sent to IPv4 addresses only")
        for e in echoes
        if e not in ipv4
    }
    if not ipv4:
        return answers
    refused = raw_sockets_allowed()
    if refused is not None:
        answers.update({e: IcmpAnswer(IcmpOutcome.NOT_SENT, detail=refused) for e in ipv4})
        return answers
    started = time.monotonic()
    try:
        replies = _scapy_echoes([e.address for e in ipv4], timeout)
    except ImportError:
        detail = "scapy is not installed"
        answers.update({e: IcmpAnswer(IcmpOutcome.NOT_SENT, detail=detail) for e in ipv4})
        return answers
    except Exception as exc:  # a scapy failure is recorded per probe, never raised
        detail = _describe(exc)
        answers.update({e: IcmpAnswer(IcmpOutcome.FAILED, detail=detail) for e in ipv4})
        return answers
    elapsed = _elapsed_ms(started)
    for echo in ipv4:
        reply = replies.get(echo.address)
        if reply is None:
            answers[echo] = IcmpAnswer(
                IcmpOutcome.TIMEOUT, detail=f"no reply within {timeout:g} s", elapsed_ms=elapsed
            )
            continue
        source, icmp_type, icmp_code = reply
        if icmp_type == 0:
            answers[echo] = IcmpAnswer(
                IcmpOutcome.REPLY, source, icmp_type, icmp_code, elapsed_ms=elapsed
            )
        else:
            kind = _ICMP_ERRORS.get(icmp_type, f"ICMP type {icmp_type}")
            if icmp_type == 3:
                kind += f" ({_UNREACHABLE_CODES.get(icmp_code, f'code {icmp_code}')})"
            answers[echo] = IcmpAnswer(
                IcmpOutcome.ERROR, source, icmp_type, icmp_code, kind, elapsed_ms=elapsed
            )
    return answers


def _scapy_echoes(addresses: Sequence[str], timeout: float) -> dict[str, tuple[str, int, int]]:
    """address -> (reply source, ICMP type, code) for each echo that got an answer."""
    # scapy logs warnings about interfaces while importing; they are not gdoctor's output.
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP
    from scapy.sendrecv import sr
    from scapy.supersocket import L3RawSocket

    # The kernel routes and resolves neighbours (scapy's own L3 socket would ARP by itself),
    # so the probe follows exactly the route the checks report.
    conf.L3socket = L3RawSocket
    ident = random.randrange(1, 0xFFFF)
    packets = [
        IP(dst=address) / ICMP(id=ident, seq=index)
        for index, address in enumerate(addresses, start=1)
    ]
    answered, _ = sr(packets, timeout=timeout, verbose=0)
    found: dict[str, tuple[str, int, int]] = {}
    for sent, received in answered:
        icmp = received[ICMP]
        found[str(sent[IP].dst)] = (str(received[IP].src), int(icmp.type), int(icmp.code))
    return found


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _str_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


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


# -- writing (host fixes) ----------------------------------------------------------------------
#
# Every write checks first that what is there is still what the plan was computed from (the
# file's bytes, the sysctl's value, the route's absence): a change made since is a conflict the
# fixer answers by planning again, never by overwriting it.


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


def file_identity(path: str) -> str | None:
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
        return HostWrite(False, f"{real_path}: {_describe(exc)}")
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
        return HostWrite(False, f"{real_path}: {_describe(exc)}")
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
        return HostWrite(False, f"{proc_path}: {_describe(exc)}")
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
            numbers = {name: number for number, name in _PROTOCOLS.items()}
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
        return HostWrite(False, f"ip route {action} {destination}: {_describe(exc)}")
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
