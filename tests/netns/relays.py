"""The lab's apiservers, reachable from inside a network namespace, on loopback only.

A process in another network namespace has its own loopback, so the kubeconfig's
``https://127.0.0.1:PORT`` would reach nothing there. A pair of socat relays joined by a Unix
socket (which lives on the filesystem, so it crosses namespaces) carries each port across:

    ns 127.0.0.1:PORT -> socat -> <dir>/PORT.sock -> socat -> machine 127.0.0.1:PORT

Every hop stays on loopback, and the kubeconfig (server URL and TLS name) is used unchanged.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

from lab.procs import ManagedProcess, stop_all, wait_until

from .topology import Namespace


class ApiRelays:
    def __init__(self, namespace: Namespace, servers: Iterable[str], log_dir: Path) -> None:
        self.namespace = namespace
        self.ports = sorted({_loopback_port(s) for s in servers})
        self.log_dir = log_dir
        # Unix socket paths must fit in 108 bytes: a short folder of their own.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="gdt-relay-"))
        self.processes: list[ManagedProcess] = []

    def start(self) -> ApiRelays:
        try:
            for port in self.ports:
                socket_path = self.socket_dir / f"{port}.sock"
                outer = [
                    "socat",
                    f"UNIX-LISTEN:{socket_path},fork,unlink-early,mode=600",
                    f"TCP:127.0.0.1:{port},nodelay",
                ]
                inner = self.namespace.exec_argv(
                    [
                        "socat",
                        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay",
                        f"UNIX-CONNECT:{socket_path}",
                    ]
                )
                log = self.log_dir / f"relay-{port}.log"
                self.processes.append(ManagedProcess(f"relay-out {port}", outer, log).start())
                self.processes.append(ManagedProcess(f"relay-in {port}", inner, log).start())
            for port in self.ports:
                if not wait_until(lambda p=port: self._ready(p), 10):
                    raise RuntimeError(f"the relay for port {port} did not come up")
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self, port: int) -> bool:
        socket_path = self.socket_dir / f"{port}.sock"
        return socket_path.exists() and self.namespace.listening("tcp", "127.0.0.1", port)

    def stop(self) -> None:
        stop_all(self.processes)
        self.processes = []
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self) -> ApiRelays:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _loopback_port(server: str) -> int:
    parsed = urlparse(server)
    if parsed.hostname != "127.0.0.1" or parsed.port is None:
        raise ValueError(f"{server} is not a loopback URL with a port; relays carry only those")
    return parsed.port
