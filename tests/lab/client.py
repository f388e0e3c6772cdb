"""A minimal JSON client for the lab's own requests (loading, resetting, readiness).

It talks urllib3 directly instead of going through the kubernetes package's ApiClient: the
ApiClient's raw-call signature changed between the versions this project accepts
(kubernetes>=26 has call_api(path, method, ...), 37 has call_api(method, url, ...)), and the
loader wants plain dicts, keep-alive connections shared by worker threads, and no model
(de)serialisation cost. TLS is verified against the lab CA; the token is the admin's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

from .errors import ApiError

JsonObject = dict[str, Any]

LOADER_USER_AGENT = "gdoctor-lab-loader"

MERGE_PATCH = "application/merge-patch+json"


class KubeClient:
    """Thread-safe: urllib3's connection pool hands each thread its own connection."""

    def __init__(
        self,
        server: str,
        token: str,
        ca_file: str,
        *,
        max_connections: int = 16,
        user_agent: str = LOADER_USER_AGENT,
    ) -> None:
        parts = urlsplit(server)
        if parts.scheme != "https" or parts.hostname is None or parts.port is None:
            raise ValueError(f"expected https://HOST:PORT, got {server!r}")
        self.server = server
        self._pool = urllib3.HTTPSConnectionPool(
            parts.hostname,
            parts.port,
            maxsize=max_connections,
            block=True,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_file,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=60.0),
        )
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }

    def close(self) -> None:
        self._pool.close()

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        *,
        query: Mapping[str, str | int] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> JsonObject:
        """Sends one request; returns the decoded JSON body, raises ApiError on HTTP >= 300."""
        url = path if not query else f"{path}?{urlencode(query)}"
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        response = self._pool.urlopen(
            method, url, body=payload, headers=headers, preload_content=True, **extra
        )
        data = response.data
        if response.status >= 300:
            raise ApiError(method, url, response.status, data.decode(errors="replace"))
        if not data:
            return {}
        decoded = json.loads(data)
        return decoded if isinstance(decoded, dict) else {"value": decoded}

    def get(self, path: str, **query: str | int) -> JsonObject:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: object) -> JsonObject:
        return self.request("POST", path, body)

    def put(self, path: str, body: object) -> JsonObject:
        return self.request("PUT", path, body)

    def merge_patch(self, path: str, body: object) -> JsonObject:
        return self.request("PATCH", path, body, content_type=MERGE_PATCH)

    def delete(self, path: str, **query: str | int) -> JsonObject:
        return self.request("DELETE", path, query=query)

    def get_text(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        """Status and body of a plain-text endpoint such as /readyz. Never raises: a server that
        is not up yet (refused, reset, timed out) gives status 0 and the error as body."""
        try:
            response = self._pool.urlopen(
                "GET", path, headers=self._headers, timeout=timeout, preload_content=True
            )
        except (urllib3.exceptions.HTTPError, OSError) as err:
            return 0, repr(err)
        return response.status, response.data.decode(errors="replace")
