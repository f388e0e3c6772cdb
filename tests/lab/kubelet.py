"""A kubelet for container logs, one per lab cluster: what the apiserver reaches when asked for
``pods/NAME/log``.

The apiserver proxies a log request to the kubelet of the pod's node, at the node's address
(``status.addresses``) and kubelet port (``status.daemonEndpoints.kubeletEndpoint.Port``), as
``GET /containerLogs/NAMESPACE/POD/CONTAINER?sinceSeconds=..&limitBytes=..``. Pods bound to the
node from `node()` are served the logs tests set; ``limitBytes`` is honoured as the kubelet does
(the first bytes), and every query is recorded so tests can see what gdoctor asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .client import JsonObject
from .unixhttps import UnixHttpsServer, server_tls

NODE_NAME = "gdoctor-lab-kubelet"
FIRST_PORT = 10251


@dataclass(frozen=True)
class LogRequest:
    namespace: str
    pod: str
    container: str
    query: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: UnixHttpsServer

    def do_GET(self) -> None:
        status, body = self.server.app.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the client address of a Unix socket is "", which the default indexes


class LabKubelet:
    """The container logs of one cluster's lab node."""

    def __init__(self, port: int, socket_path: Path, cert_file: Path, key_file: Path) -> None:
        self.port = port
        self.socket_path = socket_path
        self._tls = server_tls(cert_file, key_file)
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, str, str], bytes] = {}
        self._requests: list[LogRequest] = []
        self._server: UnixHttpsServer | None = None

    def start(self) -> LabKubelet:
        self._server = UnixHttpsServer(self.socket_path, _Handler, self._tls, self).start(
            f"lab-kubelet-{self.port}"
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def node(self) -> JsonObject:
        """The Node the apiserver finds this kubelet through (status written by the loader)."""
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME}},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            },
        }

    def set_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        with self._lock:
            self._logs[(namespace, pod, container)] = text.encode()

    def requests(self) -> list[LogRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._logs.clear()
            self._requests.clear()

    def answer(self, target: str) -> tuple[int, bytes]:
        url = urlsplit(target)
        parts = url.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return 404, b"not found"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        _, namespace, pod, container = parts
        with self._lock:
            self._requests.append(LogRequest(namespace, pod, container, query))
            log = self._logs.get((namespace, pod, container))
        if log is None:
            return 404, f"container {container} of {namespace}/{pod} has no log".encode()
        limit = query.get("limitBytes")
        return 200, log[: int(limit)] if limit else log
