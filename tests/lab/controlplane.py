"""etcd and kube-apiserver processes, isolated in a private network namespace.

Why a network namespace: an apiserver dials addresses taken from the objects it stores
(pods/log and nodes/proxy dial a Node's InternalIP, webhooks and APIServices dial Services).
Scenario objects carry made-up cluster addresses, and this lab must never send traffic beyond
loopback. Inside a fresh namespace only `lo` exists, so such dials fail at once with "network
is unreachable" (what a doctor sees when a kubelet is unreachable) and nothing leaves the host.

Clients reach each apiserver through two socat relays joined by a Unix socket, which crosses
namespaces because it lives on the filesystem:
    host 127.0.0.1:<free port> -> socat -> <workdir>/sockets/<cluster>.sock -> socat (inside)
    -> 127.0.0.1:<fixed port> (inside) -> kube-apiserver
TLS is end to end, so clients verify the apiserver's certificate as usual.

etcd also gets a private mount namespace with a tmpfs on its data dir: fsync on tmpfs is
free, and the tmpfs disappears with the process, so no data outlives the lab.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from .pki import Pki
from .procs import ManagedProcess, require_tool

ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
# Inside the private namespace nothing else listens, so fixed ports cannot collide.
FIRST_INNER_APISERVER_PORT = 6443
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/12"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
"""


@dataclass(frozen=True)
class Tools:
    unshare: str
    nsenter: str
    ip: str
    mount: str
    socat: str
    etcd: str

    @classmethod
    def find(cls) -> Tools:
        return cls(
            unshare=require_tool("unshare", "util-linux"),
            nsenter=require_tool("nsenter", "util-linux"),
            ip=require_tool("ip", "iproute2"),
            mount=require_tool("mount", "mount"),
            socat=require_tool("socat", "socat"),
            etcd=require_tool("etcd", "etcd-server"),
        )


def netns_path(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


def has_own_netns(pid: int) -> bool:
    """True once the process has left this process's network namespace."""
    try:
        return os.readlink(netns_path(pid)) != os.readlink("/proc/self/ns/net")
    except OSError:
        return False


def executes(pid: int, binary: str) -> bool:
    """True once the process image is `binary` (the wrapper shell has exec'd it)."""
    try:
        return os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(binary)
    except OSError:
        return False


def start_etcd(tools: Tools, workdir: Path) -> ManagedProcess:
    """etcd in new network + mount namespaces; its pid names the lab's network namespace."""
    data_dir = workdir / "etcd"
    data_dir.mkdir(parents=True, exist_ok=True)
    client_url = f"http://127.0.0.1:{ETCD_CLIENT_PORT}"
    peer_url = f"http://127.0.0.1:{ETCD_PEER_PORT}"
    etcd = [
        tools.etcd,
        "--name=lab",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=lab={peer_url}",
        "--log-level=warn",
        "--logger=zap",
        # Every Service create rewrites the clusterIP allocator's bitmap (128 KiB for a /12), so
        # a benchmark's thousands of creates write gigabytes: old revisions are compacted away
        # and snapshots let etcd drop old WAL files, or the tmpfs fills and etcd dies.
        "--snapshot-count=5000",
        "--max-wals=2",
        "--auto-compaction-mode=periodic",
        "--auto-compaction-retention=20s",
        "--quota-backend-bytes=4294967296",
    ]
    tmpfs = f"-t tmpfs -o size=4g,mode=0700 tmpfs {shlex.quote(str(data_dir))}"
    setup = (
        f'{shlex.quote(tools.ip)} link set lo up && {shlex.quote(tools.mount)} {tmpfs} && exec "$@"'
    )
    argv = [tools.unshare, "--net", "--mount", "--", "/bin/sh", "-c", setup, "lab-etcd", *etcd]
    return ManagedProcess("etcd", argv, workdir / "logs" / "etcd.log").start()


def inside(tools: Tools, netns_pid: int, argv: list[str]) -> list[str]:
    """argv run inside the network namespace of netns_pid (nsenter execs, keeping the pid)."""
    return [tools.nsenter, f"--net={netns_path(netns_pid)}", "--", *argv]


@dataclass(frozen=True)
class ApiServerConfig:
    cluster: str
    inner_port: int
    cluster_dir: Path
    token_file: Path
    audit_policy: Path
    pki: Pki

    @property
    def audit_log(self) -> Path:
        return self.cluster_dir / "audit.log"


def apiserver_argv(binary: Path, config: ApiServerConfig) -> list[str]:
    pki = config.pki
    return [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}",
        f"--etcd-prefix=/{config.cluster}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={config.inner_port}",
        f"--cert-dir={config.cluster_dir / 'certs'}",
        f"--tls-cert-file={pki.server_cert}",
        f"--tls-private-key-file={pki.server_key}",
        f"--token-auth-file={config.token_file}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        # No kube-controller-manager: no endpoints reconciling, no token controller, so the
        # ServiceAccount admission plugin would reject every pod.
        "--endpoint-reconciler-type=none",
        "--disable-admission-plugins=ServiceAccount",
        # The same range everywhere: Globalnet exists for clusters whose CIDRs overlap.
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--allow-privileged=true",
        f"--audit-policy-file={config.audit_policy}",
        f"--audit-log-path={config.audit_log}",
        "--audit-log-format=json",
        # Blocking: the event is on disk before the response completes, so a test can count
        # requests right after making them.
        "--audit-log-mode=blocking",
        # Priority and fairness only adds bootstrap objects and CPU on a 2-core machine.
        "--enable-priority-and-fairness=false",
        "--profiling=false",
    ]


def start_apiserver(
    tools: Tools, netns_pid: int, binary: Path, config: ApiServerConfig, log_dir: Path
) -> ManagedProcess:
    config.cluster_dir.mkdir(parents=True, exist_ok=True)
    argv = inside(tools, netns_pid, apiserver_argv(binary, config))
    log = log_dir / f"kube-apiserver-{config.cluster}.log"
    return ManagedProcess(f"kube-apiserver {config.cluster}", argv, log).start()


def start_relays(
    tools: Tools,
    netns_pid: int,
    cluster: str,
    socket_path: Path,
    inner_port: int,
    outer_port: int,
    log_dir: Path,
) -> list[ManagedProcess]:
    """The two socat halves carrying host 127.0.0.1:outer_port to the inner apiserver."""
    inner = inside(
        tools,
        netns_pid,
        [
            tools.socat,
            f"UNIX-LISTEN:{socket_path},fork,unlink-early,mode=600",
            f"TCP:127.0.0.1:{inner_port},nodelay",
        ],
    )
    outer = [
        tools.socat,
        f"TCP-LISTEN:{outer_port},bind=127.0.0.1,reuseaddr,fork,nodelay",
        f"UNIX-CONNECT:{socket_path}",
    ]
    return [
        ManagedProcess(f"relay-in {cluster}", inner, log_dir / f"relay-in-{cluster}.log").start(),
        ManagedProcess(f"relay-out {cluster}", outer, log_dir / f"relay-out-{cluster}.log").start(),
    ]
