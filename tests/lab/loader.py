"""Loading scenario objects into one cluster, and removing them again.

Objects are created as given, labelled `gdoctor-lab/loaded=true`. When the kind serves a
/status subresource the create ignores `status`, so it is written afterwards with a PUT on
/status using the object the create returned (fresh resourceVersion, one request). Kinds without
the subresource keep the status sent with the create.

Order: Namespaces and CustomResourceDefinitions first (others may depend on them), then the
bulk in parallel, then admission webhook configurations and APIServices last so they cannot
intercept the scenario's own objects. reset() removes in the opposite order for the same reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .client import JsonObject, KubeClient
from .discovery import Discovery, ResourceInfo
from .errors import ApiError, LabError

LOADED_LABEL = "gdoctor-lab/loaded"
LOADED_SELECTOR = f"{LOADED_LABEL}=true"

_FIRST_KINDS = {"Namespace", "CustomResourceDefinition"}
# Finalizers that the apiserver itself completes (the CRD one deletes the CRD's objects);
# every other finalizer belongs to a controller the lab does not run.
_SERVER_FINALIZERS = {"customresourcecleanup.apiextensions.k8s.io"}
# Kinds whose status the apiserver itself maintains (a CRD's Established, acceptedNames).
_SERVER_STATUS_KINDS = {"CustomResourceDefinition"}
_LAST_KINDS = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService"}
# Below this many objects a thread pool costs more than it saves.
_PARALLEL_THRESHOLD = 4

T = TypeVar("T")
R = TypeVar("R")


def _run_all(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """fn over items, in parallel when worthwhile; the first failure is re-raised."""
    if len(items) < _PARALLEL_THRESHOLD or workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def _phase(obj: Mapping[str, Any]) -> int:
    kind = obj.get("kind")
    if kind in _FIRST_KINDS:
        return 0
    return 2 if kind in _LAST_KINDS else 1


@dataclass(frozen=True)
class _Touched:
    """A (resource, namespace) pair the loader created objects in, for reset."""

    info: ResourceInfo
    namespace: str | None


_CREATE_ATTEMPTS = 5


class Loader:
    def __init__(self, client: KubeClient, discovery: Discovery, workers: int = 8) -> None:
        self._client = client
        self._discovery = discovery
        self._workers = workers
        self._lock = threading.Lock()
        self._touched: set[_Touched] = set()
        self._namespaces: set[str] = set()

    # -- loading -------------------------------------------------------------------------

    def apply(
        self, objects: Iterable[Mapping[str, Any]], workers: int | None = None
    ) -> list[JsonObject]:
        """Creates every object; returns them as stored (after the status write)."""
        items = list(objects)
        for index, obj in enumerate(items):
            if not isinstance(obj, Mapping) or "apiVersion" not in obj or "kind" not in obj:
                raise LabError(f"object #{index} lacks apiVersion/kind: {obj!r:.200}")
        results: dict[int, JsonObject] = {}
        for phase in (0, 1, 2):
            batch = [(i, obj) for i, obj in enumerate(items) if _phase(obj) == phase]
            if not batch:
                continue
            if phase == 0:
                # In order: a CRD must exist before its own custom resources are mapped.
                for i, obj in batch:
                    results[i] = self._create(obj)
                continue
            self._ensure_namespaces(self._namespaces_needed(obj for _, obj in batch))
            created = _run_all(lambda pair: self._create(pair[1]), batch, workers or self._workers)
            results.update((i, obj) for (i, _), obj in zip(batch, created, strict=True))
        return [results[i] for i in range(len(items))]

    def _info(self, obj: Mapping[str, Any]) -> ResourceInfo:
        api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
        try:
            return self._discovery.lookup(api_version, kind, wait=0)
        except LabError:
            if not self._crd_defines(api_version, kind):
                raise
        # A CRD for it exists but is not served yet (loaded a moment ago): give it time.
        return self._discovery.lookup(api_version, kind, wait=30)

    def _crd_defines(self, api_version: str, kind: str) -> bool:
        group, _, version = api_version.rpartition("/")
        if not group:
            return False
        crds = self._client.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        return any(
            crd["spec"]["group"] == group
            and crd["spec"]["names"]["kind"] == kind
            and any(v["name"] == version for v in crd["spec"]["versions"])
            for crd in crds.get("items", [])
        )

    def _namespace_of(self, obj: Mapping[str, Any], info: ResourceInfo) -> str | None:
        if not info.namespaced:
            return None
        return str(obj.get("metadata", {}).get("namespace") or "default")

    def _namespaces_needed(self, objects: Iterable[Mapping[str, Any]]) -> list[str]:
        needed = {self._namespace_of(obj, self._info(obj)) for obj in objects}
        return sorted(ns for ns in needed if ns is not None)

    def _ensure_namespaces(self, names: Sequence[str]) -> None:
        with self._lock:
            missing = [name for name in names if name not in self._namespaces]
        _run_all(self._ensure_namespace, missing, self._workers)

    def _ensure_namespace(self, name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {LOADED_LABEL: "true"}},
        }
        try:
            self._client.post("/api/v1/namespaces", body)
        except ApiError as err:
            if err.status != 409:
                raise
        with self._lock:
            self._namespaces.add(name)

    def _create(self, obj: Mapping[str, Any]) -> JsonObject:
        info = self._info(obj)
        namespace = self._namespace_of(obj, info)
        body: JsonObject = dict(obj)
        metadata: JsonObject = dict(body.get("metadata") or {})
        metadata["labels"] = {**(metadata.get("labels") or {}), LOADED_LABEL: "true"}
        if namespace is None:
            metadata.pop("namespace", None)
        else:
            metadata["namespace"] = namespace
        body["metadata"] = metadata
        # With a /status subresource the create drops status; it is written right after.
        status = body.pop("status", None) if info.has_status else None
        if info.kind in _SERVER_STATUS_KINDS:
            status = None  # the apiserver's own controllers write it (upstream CRDs carry one)

        if info.kind == "Namespace":
            return self._create_namespace(body)
        if namespace is not None:
            self._ensure_namespaces([namespace])
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                created = self._client.post(info.collection_path(namespace), body)
                break
            except ApiError as err:
                name = metadata.get("name")
                if err.status == 409 and attempt > 0 and name:
                    # The timed-out attempt did create it after all.
                    created = self._client.get(info.item_path(name, namespace))
                    break
                # Under heavy load (several labs on two cores) etcd may drop a connection:
                # the apiserver answers 500 (or 504) and the create is safe to repeat.
                if err.status not in (500, 504) or attempt + 1 == _CREATE_ATTEMPTS:
                    raise LabError(f"creating {_describe(obj)}: {err}") from err
                time.sleep(0.2 * (attempt + 1))
        with self._lock:
            self._touched.add(_Touched(info, namespace))
        if status is not None:
            created["status"] = status
            name = created["metadata"]["name"]
            try:
                created = self._client.put(info.status_path(name, namespace), created)
            except ApiError as err:
                raise LabError(f"writing the status of {_describe(obj)}: {err}") from err
        return created

    def _create_namespace(self, body: JsonObject) -> JsonObject:
        """Namespaces outlive reset(), so one from an earlier scenario may exist: then its
        labels and annotations are merged in rather than failing."""
        name = body["metadata"]["name"]
        try:
            created = self._client.post("/api/v1/namespaces", body)
        except ApiError as err:
            if err.status != 409:
                raise LabError(f"creating Namespace {name}: {err}") from err
            meta = body["metadata"]
            patch = {"metadata": {k: meta[k] for k in ("labels", "annotations") if k in meta}}
            created = self._client.merge_patch(f"/api/v1/namespaces/{name}", patch)
        with self._lock:
            self._namespaces.add(name)
        return created

    # -- resetting -----------------------------------------------------------------------

    def reset(self) -> None:
        """Deletes every object the loader created (namespaces excepted)."""
        with self._lock:
            touched = list(self._touched)
            self._touched.clear()
        touched = [t for t in touched if t.info.kind != "Namespace"]
        first = [t for t in touched if t.info.kind in _LAST_KINDS]
        last = [t for t in touched if t.info.kind == "CustomResourceDefinition"]
        middle = [t for t in touched if t not in first and t not in last]
        for group in (first, middle, last):
            _run_all(self._delete_loaded, group, self._workers)
        if last:
            # Their custom resources went with them: forget the cached mappings.
            self._discovery.invalidate()

    def reset_everywhere(self) -> None:
        """Like reset(), but finds labelled objects of every served kind in every namespace,
        including ones the loader did not create itself in this process."""
        touched: set[_Touched] = set()
        for api_version in self._discovery.preferred_group_versions():
            for info in self._discovery.resources(api_version).values():
                if info.kind == "Namespace" or not {"list", "delete"} <= info.verbs:
                    continue
                listing = self._client.get(
                    info.all_namespaces_path(), labelSelector=LOADED_SELECTOR
                )
                for item in listing.get("items", []):
                    touched.add(_Touched(info, item["metadata"].get("namespace")))
        with self._lock:
            self._touched |= touched
        self.reset()

    def _delete_loaded(self, target: _Touched) -> None:
        info, namespace = target.info, target.namespace
        query: dict[str, str | int] = {"labelSelector": LOADED_SELECTOR, "gracePeriodSeconds": 0}
        if "deletecollection" in info.verbs:
            # The reply lists what was deleted; objects held by finalizers are in it too.
            reply = self._client.delete(info.collection_path(namespace), **query)
            items = reply.get("items", [])
        else:
            # e.g. Services in v1.20 serve no deletecollection.
            listing = self._client.get(
                info.collection_path(namespace), labelSelector=LOADED_SELECTOR
            )
            items = listing.get("items", [])
            for item in items:
                self._delete_one(info, namespace, item["metadata"]["name"])
        for item in items:
            finalizers = set(item.get("metadata", {}).get("finalizers") or [])
            path = info.item_path(item["metadata"]["name"], namespace)
            if finalizers - _SERVER_FINALIZERS:
                # No controller will ever finish them: drop them so the deletion completes.
                kept = sorted(finalizers & _SERVER_FINALIZERS) or None
                try:
                    self._client.merge_patch(path, {"metadata": {"finalizers": kept}})
                except ApiError as err:
                    if err.status != 404:
                        raise
            if finalizers & _SERVER_FINALIZERS:
                self._wait_gone(path)

    def _wait_gone(self, path: str, timeout: float = 30.0) -> None:
        """Until the apiserver has finished a deletion (so the name can be reused at once)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._client.get(path)
            except ApiError as err:
                if err.status == 404:
                    return
                raise
            time.sleep(0.05)
        raise LabError(f"{path} still exists {timeout:.0f}s after its deletion")

    def _delete_one(self, info: ResourceInfo, namespace: str | None, name: str) -> None:
        try:
            self._client.delete(info.item_path(name, namespace), gracePeriodSeconds=0)
        except ApiError as err:
            if err.status != 404:
                raise


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    name = meta.get("name") or f"{meta.get('generateName', '')}*"
    return f"{obj.get('apiVersion')} {obj.get('kind')} {where}{name}"
