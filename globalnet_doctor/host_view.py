"""The read-only view of the machine gdoctor runs on, as host checks read it.

Plain data, like ClusterView: the adapters (``adapters/host_reader.py``, ``host_prober.py``)
fill it from the kernel (netlink, /proc/sys), from files and from probes; a support bundle can
store and replay it. Checks only query it. Besides what was read, it holds what the kernel
answered to route lookups (``ip route get``) and what the probes (DNS queries, TCP connects,
ICMP echoes) got back, so a replay judges the same answers.

Sysctl names are kept in their /proc/sys path form, ``net/ipv4/conf/all/rp_filter``, because an
interface name may contain dots (``eth0.100``).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import ipaddress
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from globalnet_doctor.shapes import MapOf, ShapeError, check, typed
from globalnet_doctor.view import ProbeNotRun

T = TypeVar("T")


class HostRole(enum.StrEnum):
    GATEWAY = "gateway"
    """One of the machine's addresses is a gateway node's InternalIP."""
    EXTERNAL = "external"
    """A machine outside every cluster that reaches them through a gateway (the field report's
    "node" 172.16.255.184)."""


@dataclass(frozen=True, slots=True)
class Link:
    index: int
    name: str
    up: bool
    kind: str | None = None
    """``veth``, ``vxlan``, ``bridge``...; None for a plain device."""
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class Address:
    interface: str
    address: str
    prefix_length: int

    @property
    def cidr(self) -> str:
        """``172.16.255.184/24``, as ``ip addr`` shows it."""
        return f"{self.address}/{self.prefix_length}"

    @property
    def network(self) -> str:
        """The connected subnet, ``172.16.255.0/24``."""
        return str(ipaddress.ip_interface(self.cidr).network)

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.address).version

    def holds(self, ip: str) -> bool:
        """Whether ``ip`` lies on this address's connected subnet."""
        try:
            return ipaddress.ip_address(ip) in ipaddress.ip_interface(self.cidr).network
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Route:
    destination: str
    """A CIDR; ``0.0.0.0/0`` (or ``::/0``) for a default route."""
    table: int = 254
    type: str = "unicast"
    """``unicast``, ``blackhole``, ``unreachable``, ``prohibit``, ``throw``, ..."""
    gateway: str | None = None
    interface: str | None = None
    source: str | None = None
    """The preferred source address (``src``)."""
    protocol: str | None = None
    scope: str | None = None
    metric: int | None = None

    @property
    def is_default(self) -> bool:
        return self.destination in ("0.0.0.0/0", "::/0")

    def describe(self) -> str:
        """The route as ``ip route`` prints it."""
        words = [] if self.type == "unicast" else [self.type]
        words.append("default" if self.is_default else self.destination)
        if self.gateway:
            words += ["via", self.gateway]
        if self.interface:
            words += ["dev", self.interface]
        if self.table not in (254, 0):
            words += ["table", _TABLE_NAMES.get(self.table, str(self.table))]
        if self.protocol and self.protocol != "boot":
            words += ["proto", self.protocol]
        if self.scope and self.scope != "global":
            words += ["scope", self.scope]
        if self.source:
            words += ["src", self.source]
        if self.metric:
            words += ["metric", str(self.metric)]
        return " ".join(words)


_TABLE_NAMES = {253: "default", 254: "main", 255: "local"}


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy routing rule (``ip rule``)."""

    priority: int
    table: int
    action: str = "lookup"
    source: str | None = None
    destination: str | None = None
    input_interface: str | None = None
    output_interface: str | None = None
    fwmark: int | None = None

    def describe(self) -> str:
        words = [f"{self.priority}:"]
        words += ["from", self.source or "all"]
        if self.destination:
            words += ["to", self.destination]
        if self.fwmark is not None:
            words += ["fwmark", hex(self.fwmark)]
        if self.input_interface:
            words += ["iif", self.input_interface]
        if self.output_interface:
            words += ["oif", self.output_interface]
        if self.action == "lookup":
            words += ["lookup", _TABLE_NAMES.get(self.table, str(self.table))]
        else:
            words.append(self.action)
        return " ".join(words)


@dataclass(frozen=True, slots=True)
class RouteLookup:
    """What the kernel answered to ``ip route get DESTINATION`` (policy rules included)."""

    destination: str
    gateway: str | None = None
    interface: str | None = None
    source: str | None = None
    table: int | None = None
    type: str | None = None
    matched: Route | None = None
    """The route the kernel chose (``ip route get fibmatch``), with its prefix."""
    error: str | None = None
    """Why the kernel has no route: ``Network is unreachable``, ..."""

    @property
    def routed(self) -> bool:
        return self.error is None and self.type in (None, "unicast", "local")

    def describe(self) -> str:
        """``242.0.0.1 via 172.16.255.183 dev ens192 src 172.16.255.184``, like ``ip route get``."""
        if self.error is not None:
            return f"{self.destination}: {self.error}"
        words = [] if self.type in (None, "unicast") else [self.type]
        words.append(self.destination)
        if self.gateway:
            words += ["via", self.gateway]
        if self.interface:
            words += ["dev", self.interface]
        if self.source:
            words += ["src", self.source]
        if self.table not in (None, 254):
            words += ["table", _TABLE_NAMES.get(self.table or 0, str(self.table))]
        return " ".join(words)


@dataclass(frozen=True, slots=True)
class SysctlAssignment:
    """One line of a sysctl.d file (or /etc/sysctl.conf), in the order systemd applies them."""

    key: str
    """The /proc/sys path form (``net/ipv4/conf/*/rp_filter``); it may be a glob."""
    value: str | None
    """None for ``-key`` without ``=``: the key is excluded from every glob."""
    file: str
    line: int
    ignore_failure: bool = False

    @property
    def is_glob(self) -> bool:
        return any(c in self.key for c in "*?[")

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PersistedValue:
    """The value a sysctl gets at boot from the persisted files, and the line that sets it."""

    value: str
    source: str
    """``/etc/sysctl.d/99-strict.conf:3``."""


@dataclass(frozen=True, slots=True)
class ResolvConf:
    path: str
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    text: str | None = None
    """The file as read (the GD501 fix rewrites one line and keeps the others)."""
    symlink_target: str | None = None
    """Where the path points when it is a symlink (systemd-resolved's stub, ...)."""
    error: str | None = None
    """Why the file could not be read: ``permission denied``, ``no such file``."""


@dataclass(frozen=True, slots=True)
class HostFile:
    """A file a host fix rewrites, read byte for byte (``ResolvConf.text`` is decoded text)."""

    path: str
    """The path as judged (``/etc/resolv.conf``, or under ``--root``)."""
    real_path: str
    """Where its bytes live: the path with every symlink followed (``os.path.realpath``, by the
    reader), the path a fix writes to."""
    data: bytes | None = None
    """None when the file does not exist (or could not be read: see ``error``)."""
    symlink_target: str | None = None
    mount_point: bool = False
    """The file itself is a mount point: a bind mount, as ``ip netns exec`` and container
    runtimes make for resolv.conf. Renaming onto it fails (EBUSY): it is written in place."""
    error: str | None = None


RESOLV_CONF_MAX_NAMESERVERS = 3
"""glibc's MAXNS: nameserver lines after the third are ignored."""


def parse_resolv_conf(path: str, text: str) -> ResolvConf:
    """resolv.conf as glibc reads it: the last ``search``/``domain`` line wins, ``options``
    accumulate, comments start with ``#`` or ``;``. Every nameserver line is kept (glibc uses
    only the first three; the checks say so)."""
    nameservers: list[str] = []
    search: tuple[str, ...] = ()
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        words = line.split()
        if len(words) < 2:
            continue
        keyword, rest = words[0], words[1:]
        if keyword == "nameserver":
            nameservers.append(rest[0])
        elif keyword in ("search", "domain"):
            search = tuple(rest) if keyword == "search" else (rest[0],)
        elif keyword == "options":
            options.extend(rest)
    return ResolvConf(path, tuple(nameservers), search, tuple(options), text)


def sysctl_path(key: str) -> str:
    """A sysctl name in path form, as sysctl.d(5) reads it: when the first separator is a
    slash, dots stay; when it is a dot, dots and slashes swap (``net.ipv4.conf.eth0/100.x``
    is ``net/ipv4/conf/eth0.100/x``)."""
    key = key.strip()
    first = next((c for c in key if c in "./"), "/")
    if first == "/":
        return key.strip("/")
    return key.translate(str.maketrans("./", "/."))


def parse_sysctl_file(path: str, text: str) -> list[SysctlAssignment]:
    """The assignments of one sysctl.d file, with their line numbers."""
    found: list[SysctlAssignment] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        ignore_failure = line.startswith("-")
        if ignore_failure:
            line = line[1:].lstrip()
        key, equals, value = line.partition("=")
        if not key.strip():
            continue
        found.append(
            SysctlAssignment(
                key=sysctl_path(key),
                value=value.strip() if equals else None,
                file=path,
                line=number,
                ignore_failure=ignore_failure,
            )
        )
    return found


def persisted_value(assignments: Iterable[SysctlAssignment], path: str) -> PersistedValue | None:
    """The value the files give ``path`` at boot, by systemd-sysctl's rules: an explicit
    assignment beats every glob whatever the order; among equals the later line wins; a
    ``-key`` line without ``=`` keeps globs off that key."""
    explicit: SysctlAssignment | None = None
    globbed: SysctlAssignment | None = None
    excluded = False
    for assignment in assignments:
        if assignment.is_glob:
            if assignment.value is not None and fnmatch.fnmatchcase(path, assignment.key):
                globbed = assignment
        elif assignment.key == path:
            if assignment.value is None:
                excluded = True
            else:
                explicit = assignment
    chosen = explicit or (None if excluded else globbed)
    if chosen is None or chosen.value is None:
        return None
    return PersistedValue(chosen.value, chosen.source)


# -- probes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """One DNS question sent to one nameserver (dnspython, UDP)."""

    name: str
    nameserver: str
    record_type: str = "A"

    def describe(self) -> str:
        return f"dns {self.record_type} {self.name} @{self.nameserver}"


@dataclass(frozen=True, slots=True)
class TcpConnect:
    """A TCP connect to a global IP and a Service port."""

    address: str
    port: int

    def describe(self) -> str:
        return f"tcp connect {self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class IcmpEcho:
    """An ICMP echo request to a global IP (scapy, raw sockets)."""

    address: str

    def describe(self) -> str:
        return f"icmp echo {self.address}"


HostProbe = DnsQuery | TcpConnect | IcmpEcho


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    rcode: str | None = None
    """``NOERROR``, ``NXDOMAIN``, ``SERVFAIL``...; None when no answer came back."""
    addresses: tuple[str, ...] = ()
    error: str | None = None
    """Why no answer came: ``timeout after 2 s``, ``Network is unreachable``."""
    not_sent: str | None = None
    """Why the query was not sent (the library is missing, ...)."""
    elapsed_ms: int = 0

    @property
    def answered(self) -> bool:
        return self.rcode is not None

    def describe(self) -> str:
        if self.not_sent is not None:
            return f"not sent: {self.not_sent}"
        if self.rcode is None:
            return f"no answer ({self.error})"
        if self.addresses:
            return f"{self.rcode} {', '.join(self.addresses)}"
        return f"{self.rcode}, no address"


class TcpOutcome(enum.StrEnum):
    CONNECTED = "connected"
    REFUSED = "refused"
    """A reset came back: the IP answers, nothing listens on the port (or a REJECT rule)."""
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    """The kernel or an ICMP error said the network or host cannot be reached."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TcpAnswer:
    outcome: TcpOutcome
    detail: str = ""
    elapsed_ms: int = 0

    def describe(self) -> str:
        return f"{self.outcome.value}" + (f" ({self.detail})" if self.detail else "")


class IcmpOutcome(enum.StrEnum):
    REPLY = "reply"
    """An echo reply."""
    ERROR = "error"
    """An ICMP error (destination unreachable, time exceeded) came back instead."""
    TIMEOUT = "timeout"
    NOT_SENT = "not-sent"
    """Raw sockets are not allowed (no CAP_NET_RAW), or scapy is missing."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class IcmpAnswer:
    outcome: IcmpOutcome
    reply_from: str | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    detail: str = ""
    elapsed_ms: int = 0

    def describe(self) -> str:
        if self.outcome is IcmpOutcome.REPLY:
            return f"echo reply from {self.reply_from}"
        if self.outcome is IcmpOutcome.ERROR:
            return f"{self.detail or 'ICMP error'} from {self.reply_from}"
        return f"{self.outcome.value}" + (f" ({self.detail})" if self.detail else "")


HostProbeAnswer = DnsAnswer | TcpAnswer | IcmpAnswer


class NotLookedUp(LookupError):
    """A check asked for a route lookup the engine did not make (a programming error)."""


@dataclass(slots=True)
class HostView:
    observed_at: datetime
    """When the host was read; freshness is judged against it, never the wall clock."""
    hostname: str = ""
    root: str = "/"
    """The directory every file path was read under (``--root``; ``/`` normally)."""
    error: str | None = None
    """Why the host could not be read at all (netlink refused, ...): host checks ``error``."""
    links: tuple[Link, ...] = ()
    addresses: tuple[Address, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    route_lookups: dict[str, RouteLookup] = field(default_factory=dict)
    """destination IP -> the kernel's answer."""
    sysctls: dict[str, str] = field(default_factory=dict)
    """/proc/sys path -> runtime value, for the sysctls host checks read."""
    sysctl_files: tuple[str, ...] = ()
    """The persisted sysctl files, in the order they apply (later files win)."""
    sysctl_assignments: tuple[SysctlAssignment, ...] = ()
    sysctl_errors: tuple[str, ...] = ()
    """Persisted files that exist but could not be read, with the reason."""
    resolv_conf: ResolvConf = field(default_factory=lambda: ResolvConf("/etc/resolv.conf"))
    probe_answers: dict[HostProbe, HostProbeAnswer] = field(default_factory=dict)

    # -- queries ---------------------------------------------------------------------------

    def path_under_root(self, relative: str) -> str:
        """``relative`` (``etc/sysctl.d/x.conf``) as a path under ``root``, as the reader joined
        it: host fixes name the files they read and write through it, never through ``os``."""
        return posixpath.join(self.root, relative)

    def sysctl_proc_path(self, key: str) -> str:
        """The /proc/sys file under ``root`` a runtime sysctl (``net/ipv4/ip_forward``) is
        read and written through."""
        return self.path_under_root(posixpath.join("proc/sys", key))

    def lookup(self, destination: str) -> RouteLookup:
        found = self.route_lookups.get(destination)
        if found is None:
            raise NotLookedUp(f"no route lookup was made for {destination}")
        return found

    def probe(self, probe: HostProbe) -> HostProbeAnswer:
        answer = self.probe_answers.get(probe)
        if answer is None:
            raise ProbeNotRun(probe.describe())
        return answer

    def global_addresses(self) -> list[Address]:
        """Addresses other than loopback and link-local: those a neighbour can reach."""
        found = []
        for address in self.addresses:
            ip = ipaddress.ip_address(address.address)
            if not (ip.is_loopback or ip.is_link_local):
                found.append(address)
        return found

    def address_of(self, ip: str) -> Address | None:
        """This machine's address ``ip``, if it has one."""
        return next((a for a in self.addresses if a.address == ip), None)

    def addresses_reaching(self, ip: str) -> list[Address]:
        """This machine's addresses whose connected subnet holds ``ip``."""
        return [a for a in self.global_addresses() if a.holds(ip)]

    def sysctl(self, path: str) -> str | None:
        return self.sysctls.get(path)

    def persisted(self, path: str) -> PersistedValue | None:
        return persisted_value(self.sysctl_assignments, path)


def rp_filter_path(interface: str) -> str:
    return f"net/ipv4/conf/{interface}/rp_filter"


def as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- plain data for bundles --------------------------------------------------------------------

_PROBE_TYPES: dict[str, type[DnsQuery] | type[TcpConnect] | type[IcmpEcho]] = {
    "dns": DnsQuery,
    "tcp": TcpConnect,
    "icmp": IcmpEcho,
}


def _probe_type(probe: HostProbe) -> str:
    return next(name for name, cls in _PROBE_TYPES.items() if isinstance(probe, cls))


def host_view_to_dict(view: HostView) -> dict[str, Any]:
    """The view as JSON-ready data (a bundle stores it; ``host_view_from_dict`` reads it)."""
    return {
        "observedAt": view.observed_at.isoformat(),
        "hostname": view.hostname,
        "root": view.root,
        "error": view.error,
        "links": [dataclasses.asdict(x) for x in view.links],
        "addresses": [dataclasses.asdict(x) for x in view.addresses],
        "routes": [dataclasses.asdict(x) for x in view.routes],
        "rules": [dataclasses.asdict(x) for x in view.rules],
        "routeLookups": [dataclasses.asdict(x) for x in view.route_lookups.values()],
        "sysctls": dict(view.sysctls),
        "sysctlFiles": list(view.sysctl_files),
        "sysctlAssignments": [dataclasses.asdict(x) for x in view.sysctl_assignments],
        "sysctlErrors": list(view.sysctl_errors),
        "resolvConf": dataclasses.asdict(view.resolv_conf),
        "probes": [
            {
                "probe": {"type": _probe_type(probe), **dataclasses.asdict(probe)},
                "answer": {k: _plain(v) for k, v in dataclasses.asdict(answer).items()},
            }
            for probe, answer in view.probe_answers.items()
        ],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def host_view_from_dict(data: Mapping[str, Any]) -> HostView:
    """The view ``host_view_to_dict`` wrote, every field checked for its type (a bundle's
    ``host/host.json`` is untrusted input): a ``ShapeError`` says where it does not fit."""
    check(data, HOST_VIEW_SHAPE, "host.json")
    lookups = {}
    for index, item in enumerate(data.get("routeLookups") or []):
        lookup = typed(RouteLookup, item, f"host.json.routeLookups[{index}]")
        lookups[lookup.destination] = lookup
    answers: dict[HostProbe, HostProbeAnswer] = {}
    for index, item in enumerate(data.get("probes") or []):
        where = f"host.json.probes[{index}]"
        fields = dict(item["probe"])
        kind = fields.pop("type")
        if kind not in _PROBE_TYPES:
            raise ShapeError(f"{where}.probe.type is not one of {', '.join(_PROBE_TYPES)}")
        probe = typed(_PROBE_TYPES[kind], fields, f"{where}.probe")
        answers[probe] = typed(_ANSWER_TYPES[type(probe)], item["answer"], f"{where}.answer")
    return HostView(
        observed_at=datetime.fromisoformat(data["observedAt"]),
        hostname=data.get("hostname") or "",
        root=data.get("root") or "/",
        error=data.get("error"),
        links=_typed_all(Link, data, "links"),
        addresses=_typed_all(Address, data, "addresses"),
        routes=_typed_all(Route, data, "routes"),
        rules=_typed_all(Rule, data, "rules"),
        route_lookups=lookups,
        sysctls=dict(data.get("sysctls") or {}),
        sysctl_files=tuple(data.get("sysctlFiles") or ()),
        sysctl_assignments=_typed_all(SysctlAssignment, data, "sysctlAssignments"),
        sysctl_errors=tuple(data.get("sysctlErrors") or ()),
        resolv_conf=typed(
            ResolvConf,
            data.get("resolvConf") or {"path": "/etc/resolv.conf"},
            "host.json.resolvConf",
        ),
        probe_answers=answers,
    )


_NO_RESOLV_CONF = {"path": "/etc/resolv.conf"}
HOST_VIEW_SHAPE = {
    "observedAt": str,
    "hostname?": (str, None),
    "root?": (str, None),
    "error?": (str, None),
    "links?": [dict],
    "addresses?": [dict],
    "routes?": [dict],
    "rules?": [dict],
    "routeLookups?": [dict],
    "sysctls?": MapOf(str),
    "sysctlFiles?": [str],
    "sysctlAssignments?": [dict],
    "sysctlErrors?": [str],
    "resolvConf?": (dict, None),
    "probes?": [{"probe": {"type": str}, "answer": dict}],
}


def _typed_all(cls: type[T], data: Mapping[str, Any], key: str) -> tuple[T, ...]:
    return tuple(typed(cls, x, f"host.json.{key}[{i}]") for i, x in enumerate(data.get(key) or []))


_ANSWER_TYPES: dict[type, type[DnsAnswer] | type[TcpAnswer] | type[IcmpAnswer]] = {
    DnsQuery: DnsAnswer,
    TcpConnect: TcpAnswer,
    IcmpEcho: IcmpAnswer,
}
