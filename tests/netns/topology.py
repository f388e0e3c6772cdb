"""The field report's network, rebuilt from network namespaces and veth pairs.

    host ns  (gdoctor runs here; its own /etc/resolv.conf through /etc/netns/<ns>/)
      ens192 172.16.255.184/24 ──┐
                                 │ br0 (in the gateway ns: the LAN switch)
    node ns (optional)           │
      eth0 172.16.255.185/24 ────┤   forwards, but its global route is a dead end
                                 │
    gateway ns                   │
      br0 172.16.255.183/24 ─────┘   member1's InternalIP; forwards the global range
      eth1 10.255.0.1/30 ──────── cluster ns eth0 10.255.0.2/30
                                  owns the global IPs (on lo), runs dnsmasq for
                                  *.svc.clusterset.local and the services' TCP listeners

Every interface is created directly inside its namespace (``ip link add ... netns``), so no
name is ever added to the machine's own namespace and every name is fixed (``ens192``, as in
the field report). Namespace names are unique per topology and carry the test process's pid,
so leftovers of a killed run can be told from another run's live ones and removed.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.procs import ManagedProcess, stop_all, wait_until

NETNS_ETC = Path("/etc/netns")
NETNS_RUN = Path("/run/netns")
PREFIX = "gdt"
HOST_INTERFACE = "ens192"
GATEWAY_LINK = "10.255.0.1/30"
CLUSTER_LINK = "10.255.0.2/30"
_COUNTER = itertools.count(1)
_LIVE: set[Topology] = set()
_LIVE_LOCK = threading.Lock()


class NetnsUnavailable(Exception):
    """Network namespaces cannot be built here (not root, no iproute2 or dnsmasq)."""


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def require_netns() -> None:
    """Raises NetnsUnavailable saying what is missing."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root (CI runs the host tests as root)")
    for tool, package in (("ip", "iproute2"), ("dnsmasq", "dnsmasq-base"), ("socat", "socat")):
        if shutil.which(tool) is None:
            raise NetnsUnavailable(f"{tool!r} not found; install the Debian package {package}")


@dataclass
class HostTopology:
    """What a host scenario's ``host:`` section describes (every field has the field report's
    healthy value as default)."""

    address: str = "172.16.255.184/24"
    """The host's address on the gateways' LAN (interface ens192)."""
    routes: list[str] = field(
        default_factory=lambda: ["242.0.0.0/8 via 172.16.255.183", "default via 172.16.255.1"]
    )
    """``ip route add`` arguments inside the host namespace, in order."""
    sysctls: dict[str, str] = field(default_factory=dict)
    """Runtime sysctls of the host namespace (rp_filter is 0 everywhere unless set here)."""
    files: dict[str, str] = field(default_factory=dict)
    """Files under the directory given to gdoctor as --root (etc/sysctl.d/..., ...)."""
    resolv_conf: str | None = "nameserver 242.0.255.254\n"
    """/etc/resolv.conf as the host namespace sees it; None: the namespace gets none."""
    resolv_conf_mode: int | None = None
    gateway_addresses: list[str] = field(default_factory=lambda: ["172.16.255.183/24"])
    """The gateway namespace's addresses on the LAN (it forwards the global range)."""
    node_addresses: list[str] = field(default_factory=list)
    """Addresses of a node namespace on the LAN that forwards but knows no global route."""
    global_range: str = "242.0.0.0/8"
    global_ips: list[str] = field(
        default_factory=lambda: [
            "242.0.255.254",  # member1 submariner-operator/external-dns-cluster-a (UDP/TCP 53)
            "242.0.255.252",  # member1 default/node (selector-less, TCP 80)
            "242.1.255.253",  # member2 default/nginx (TCP 80)
            "242.1.255.251",  # member2 default/nginx-ss pod web-0 (TCP 80)
            "242.1.255.250",  # member2 default/nginx-ss pod web-1 (TCP 80)
        ]
    )
    """Addresses the cluster namespace owns: the global IPs of the healthy base's exports."""
    dns_listen: list[str] = field(default_factory=lambda: ["242.0.255.254"])
    dns_records: dict[str, str] = field(
        default_factory=lambda: {
            "external-dns-cluster-a.submariner-operator.svc.clusterset.local": "242.0.255.254",
            "nginx.default.svc.clusterset.local": "242.1.255.253",
            "nginx-ss.default.svc.clusterset.local": "242.1.255.251,242.1.255.250",
            "cluster-b.nginx-ss.default.svc.clusterset.local": "242.1.255.251,242.1.255.250",
            "web-0.cluster-b.nginx-ss.default.svc.clusterset.local": "242.1.255.251",
            "web-1.cluster-b.nginx-ss.default.svc.clusterset.local": "242.1.255.250",
        }
    )
    """What the DNS answers (name -> comma-separated IPs; a scenario's records are merged over
    these); other clusterset.local names get NXDOMAIN."""
    listeners: list[str] = field(
        default_factory=lambda: [
            "242.0.255.252:80",
            "242.1.255.253:80",
            "242.1.255.251:80",
            "242.1.255.250:80",
        ]
    )
    """``IP:PORT`` TCP listeners in the cluster namespace (dnsmasq serves TCP 53 itself)."""
    args: list[str] = field(default_factory=list)
    """Extra ``gdoctor check`` options."""
    drop_capabilities: list[str] = field(default_factory=list)
    """Capabilities removed from gdoctor's process (``dac_override`` to make a mode-000 file
    unreadable for root)."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> HostTopology:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown host topology keys: {unknown}; known: {sorted(known)}")
        values = dict(data)
        if "sysctls" in values:
            values["sysctls"] = {str(k): str(v) for k, v in values["sysctls"].items()}
        if "dns_records" in values:
            # Records are merged over the defaults: a scenario names only what it changes.
            values["dns_records"] = {**cls().dns_records, **values["dns_records"]}
        return cls(**values)


@dataclass
class Namespace:
    name: str

    def ip(self, *argv: str) -> None:
        sh("ip", "-n", self.name, *argv)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh(*self.exec_argv(argv), check=check)

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-qw", f"{key}={value}")

    def listening(self, protocol: str, address: str, port: int) -> bool:
        flag = "-Hltn" if protocol == "tcp" else "-Hlun"
        shown = address if ":" not in address else f"[{address}]"
        done = self.run("ss", flag, f"src {shown}:{port}", check=False)
        return done.returncode == 0 and bool(done.stdout.strip())


class Topology:
    """A built topology; ``close()`` (or the context manager) removes every trace of it."""

    def __init__(self, spec: HostTopology, workdir: Path) -> None:
        self.spec = spec
        self.workdir = workdir
        tag = f"{PREFIX}{os.getpid()}-{next(_COUNTER)}"
        self.host = Namespace(f"{tag}-host")
        self.gateway = Namespace(f"{tag}-gw")
        self.cluster = Namespace(f"{tag}-cl")
        self.node = Namespace(f"{tag}-node") if spec.node_addresses else None
        self.root = workdir / "root"
        self.processes: list[ManagedProcess] = []
        self._created: list[Namespace] = []

    @property
    def namespaces(self) -> list[Namespace]:
        return [n for n in (self.host, self.gateway, self.cluster, self.node) if n is not None]

    # -- building ------------------------------------------------------------------------

    def build(self) -> Topology:
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        spec = self.spec
        for namespace in self.namespaces:
            sh("ip", "netns", "add", namespace.name)
            self._created.append(namespace)
            namespace.ip("link", "set", "lo", "up")
            # Namespaces copy some defaults from the machine's: make the judged ones explicit.
            for key in ("all", "default"):
                namespace.sysctl(f"net.ipv4.conf.{key}.rp_filter", "0")
        self._write_resolv_conf()
        self._write_root()
        gw, cl, host = self.gateway, self.cluster, self.host
        gw.ip("link", "add", "br0", "type", "bridge")
        self._veth(host, HOST_INTERFACE, gw, "lan-host")
        gw.ip("link", "set", "lan-host", "master", "br0")
        if self.node is not None:
            self._veth(self.node, "eth0", gw, "lan-node")
            gw.ip("link", "set", "lan-node", "master", "br0")
        self._veth(gw, "eth1", cl, "eth0")
        for interface, namespace in (("br0", gw), ("lan-host", gw), ("eth1", gw), ("eth0", cl)):
            namespace.ip("link", "set", interface, "up")
        if self.node is not None:
            gw.ip("link", "set", "lan-node", "up")
        for address in spec.gateway_addresses:
            gw.ip("addr", "add", address, "dev", "br0")
        gw.ip("addr", "add", GATEWAY_LINK, "dev", "eth1")
        gw.sysctl("net.ipv4.ip_forward", "1")
        gw.ip("route", "add", spec.global_range, "via", CLUSTER_LINK.split("/")[0])
        cl.ip("addr", "add", CLUSTER_LINK, "dev", "eth0")
        cl.ip("route", "add", "default", "via", GATEWAY_LINK.split("/")[0])
        for address in spec.global_ips:
            cl.ip("addr", "add", f"{address}/32", "dev", "lo")
        if self.node is not None:
            for address in spec.node_addresses:
                self.node.ip("addr", "add", address, "dev", "eth0")
            self.node.ip("link", "set", "eth0", "up")
            self._dead_end(self.node)
        host.ip("addr", "add", spec.address, "dev", HOST_INTERFACE)
        host.ip("link", "set", HOST_INTERFACE, "up")
        for key, value in spec.sysctls.items():
            host.sysctl(key, value)
        for route in spec.routes:
            host.ip("route", "add", *route.split())
        self._start_services()

    def _dead_end(self, node: Namespace) -> None:
        """A node that forwards, but whose route for the global range leads to a neighbour
        that never answers: it sends every probe back an ICMP "host unreachable" from its own
        address. (A missing route would do the same for the first five packets only: the
        kernel rate-limits routing errors, in the machine's namespace alone; neighbour
        failures go through icmp_ratelimit, which a namespace can turn off.)"""
        node.sysctl("net.ipv4.ip_forward", "1")
        node.sysctl("net.ipv4.icmp_ratelimit", "0")
        self._veth(node, "dead0", node, "dead1")
        node.ip("link", "set", "dead0", "up")
        node.ip("link", "set", "dead1", "up")
        node.ip("addr", "add", "10.254.0.1/24", "dev", "dead0")
        # One ARP request, 100 ms: the failure comes well within gdoctor's probe timeout.
        node.sysctl("net.ipv4.neigh.dead0.mcast_solicit", "1")
        node.sysctl("net.ipv4.neigh.dead0.retrans_time_ms", "100")
        node.ip("route", "add", self.spec.global_range, "via", "10.254.0.2")

    def _veth(self, left: Namespace, left_name: str, right: Namespace, right_name: str) -> None:
        sh(
            "ip", "link", "add", left_name, "netns", left.name, "type", "veth",
            "peer", "name", right_name, "netns", right.name,
        )  # fmt: skip

    def _write_resolv_conf(self) -> None:
        folder = NETNS_ETC / self.host.name
        folder.mkdir(parents=True, exist_ok=True)
        if self.spec.resolv_conf is None:
            # ip netns exec bind-mounts only what exists; an empty folder would let the
            # machine's own resolv.conf through, so gdoctor is pointed at a missing file.
            return
        path = folder / "resolv.conf"
        path.write_text(self.spec.resolv_conf)
        if self.spec.resolv_conf_mode is not None:
            path.chmod(self.spec.resolv_conf_mode)

    def _write_root(self) -> None:
        """The directory gdoctor reads files under: the namespace's own /proc (through a link,
        so /proc/sys is the host namespace's), and the scenario's persisted files."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "proc").symlink_to("/proc")
        for relative, text in self.spec.files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def resolv_conf_path(self) -> str:
        """What gdoctor is told to read: the namespace's bind-mounted /etc/resolv.conf, or a
        path that does not exist when the scenario gives the namespace none."""
        if self.spec.resolv_conf is None:
            return str(self.root / "etc" / "resolv.conf")
        return "/etc/resolv.conf"

    def _start_services(self) -> None:
        spec = self.spec
        logs = self.workdir / "logs"
        if spec.dns_listen:
            argv = [
                "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--bind-interfaces", "--user=root", "--group=root",
                f"--pid-file={self.workdir / 'dnsmasq.pid'}", "--log-facility=-",
                "--local=/clusterset.local/", "--cache-size=0",
            ]  # fmt: skip
            argv += [f"--listen-address={ip}" for ip in spec.dns_listen]
            argv += [
                f"--host-record={name},{ip.strip()}"
                for name, ips in spec.dns_records.items()
                for ip in ips.split(",")
            ]
            self._start("dnsmasq", self.cluster.exec_argv(argv), logs / "dnsmasq.log")
        for listener in spec.listeners:
            ip, _, port = listener.rpartition(":")
            argv = ["socat", f"TCP-LISTEN:{port},bind={ip},reuseaddr,fork", "EXEC:/bin/true"]
            self._start(f"listener {listener}", self.cluster.exec_argv(argv), logs / "tcp.log")
        ready = [("udp", ip, 53) for ip in spec.dns_listen]
        ready += [("tcp", *_split(listener)) for listener in spec.listeners]
        for protocol, ip, port in ready:
            if not wait_until(lambda p=protocol, i=ip, n=port: self.cluster.listening(p, i, n), 10):
                raise RuntimeError(f"nothing listens on {protocol} {ip}:{port} in the cluster ns")

    def _start(self, name: str, argv: list[str], log: Path) -> None:
        self.processes.append(ManagedProcess(name, argv, log).start())

    # -- cleanup -------------------------------------------------------------------------

    def close(self) -> None:
        stop_all(self.processes)
        self.processes = []
        for namespace in reversed(self._created):
            sh("ip", "netns", "del", namespace.name, check=False)
        self._created = []
        shutil.rmtree(NETNS_ETC / self.host.name, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> Topology:
        return self.build()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split(listener: str) -> tuple[str, int]:
    ip, _, port = listener.rpartition(":")
    return ip, int(port)


def _close_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for topology in leftovers:
        with contextlib.suppress(Exception):
            topology.close()


atexit.register(_close_leftovers)


def remove_stale_namespaces() -> list[str]:
    """Removes namespaces (and their /etc/netns folders) left by a test process that died
    without cleaning up: named ``gdt<pid>-...`` with a pid no longer alive."""
    removed = []
    try:
        names = [p.name for p in NETNS_RUN.iterdir()]
    except OSError:
        return removed
    for name in names:
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        sh("ip", "netns", "del", name, check=False)
        shutil.rmtree(NETNS_ETC / name, ignore_errors=True)
        removed.append(name)
    return removed
