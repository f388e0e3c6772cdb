"""HTTPS servers of the lab's own making (the externalIP webhook, the kubelets) on Unix sockets.

The apiservers live in a private network namespace; a socat relay inside it carries a loopback
TCP port there to the server's Unix socket here, so nothing listens on the machine's network.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any


class UnixHttpsServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves ``handler`` over TLS on a Unix socket; handlers reach their owner as ``app``."""

    daemon_threads = True

    def __init__(
        self,
        socket_path: Path,
        handler: type[BaseHTTPRequestHandler],
        tls: ssl.SSLContext,
        app: Any,
    ) -> None:
        socket_path.unlink(missing_ok=True)
        super().__init__(str(socket_path), handler)
        socket_path.chmod(0o600)
        self.socket_path = socket_path
        self.tls = tls
        self.app = app
        self._thread: threading.Thread | None = None

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        # The handshake happens in the request's thread, never in the accepting one.
        wrapped = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def start(self, name: str) -> UnixHttpsServer:
        self._thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.socket_path.unlink(missing_ok=True)


def server_tls(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(cert_file), str(key_file))
    return tls


def relay_argv(socat: str, port: int, socket_path: Path) -> list[str]:
    """socat, run inside the lab's network namespace: 127.0.0.1:port there -> the Unix socket."""
    return [
        socat,
        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay",
        f"UNIX-CONNECT:{socket_path}",
    ]
