"""Which REST resource serves an apiVersion/kind, and whether it has a /status subresource.

Discovery is fetched per group-version on first use and cached. A kind that is missing is
looked up again for a while, because a CustomResourceDefinition loaded a moment ago is served
only once it is Established.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .client import JsonObject, KubeClient
from .errors import ApiError, LabError


@dataclass(frozen=True)
class ResourceInfo:
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]
    has_status: bool

    def _base(self) -> str:
        return "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def collection_path(self, namespace: str | None) -> str:
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced: a namespace is required")
            return f"{self._base()}/namespaces/{namespace}/{self.plural}"
        return f"{self._base()}/{self.plural}"

    def all_namespaces_path(self) -> str:
        return f"{self._base()}/{self.plural}"

    def item_path(self, name: str, namespace: str | None) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def status_path(self, name: str, namespace: str | None) -> str:
        return f"{self.item_path(name, namespace)}/status"


def group_version_path(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def parse_resource_list(api_version: str, resource_list: JsonObject) -> dict[str, ResourceInfo]:
    """Kind -> ResourceInfo from an APIResourceList (subresources fold into their parent)."""
    entries = resource_list.get("resources", [])
    names = {entry["name"] for entry in entries}
    found: dict[str, ResourceInfo] = {}
    for entry in entries:
        plural = entry["name"]
        if "/" in plural:
            continue
        found[entry["kind"]] = ResourceInfo(
            api_version=api_version,
            kind=entry["kind"],
            plural=plural,
            namespaced=bool(entry.get("namespaced")),
            verbs=frozenset(entry.get("verbs", [])),
            has_status=f"{plural}/status" in names,
        )
    return found


class Discovery:
    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._by_group_version: dict[str, dict[str, ResourceInfo]] = {}

    def _fetch(self, api_version: str) -> dict[str, ResourceInfo]:
        try:
            listing = self._client.get(group_version_path(api_version))
        except ApiError as err:
            if err.status != 404:
                raise
            listing = {}
        kinds = parse_resource_list(api_version, listing)
        with self._lock:
            self._by_group_version[api_version] = kinds
        return kinds

    def invalidate(self, api_version: str | None = None) -> None:
        with self._lock:
            if api_version is None:
                self._by_group_version.clear()
            else:
                self._by_group_version.pop(api_version, None)

    def lookup(self, api_version: str, kind: str, wait: float = 10.0) -> ResourceInfo:
        with self._lock:
            cached = self._by_group_version.get(api_version)
        if cached is not None and kind in cached:
            return cached[kind]
        deadline = time.monotonic() + wait
        while True:
            kinds = self._fetch(api_version)
            if kind in kinds:
                return kinds[kind]
            if time.monotonic() >= deadline:
                raise LabError(f"the apiserver does not serve {api_version} {kind}")
            time.sleep(0.05)

    def preferred_group_versions(self) -> list[str]:
        versions = ["v1"]
        for group in self._client.get("/apis").get("groups", []):
            versions.append(group["preferredVersion"]["groupVersion"])
        return versions

    def resources(self, api_version: str) -> dict[str, ResourceInfo]:
        with self._lock:
            cached = self._by_group_version.get(api_version)
        return cached if cached is not None else self._fetch(api_version)
