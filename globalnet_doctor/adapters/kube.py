"""The only module that talks to the Kubernetes client: reads each cluster's view.

Reads are raw JSON (no model classes, about 7x cheaper for core kinds), one LIST per declared
kind and scope (paginated) or one GET per fixed name, so the request count depends on the
checks selected, never on the number of objects. Versions come from discovery: a kind is read
at the version the server prefers among those gdoctor understands. A group whose discovery
fails (an aggregated APIService whose server is down answers 503) makes only its own kinds
unavailable, with the reason; the cluster stays reachable and every other read is made.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import InsecureRequestWarning

from globalnet_doctor import __version__
from globalnet_doctor.gcpause import gc_paused
from globalnet_doctor.kinds import Kind, Probe, Read
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.view import ClusterView, ProbeAnswer, ReadAnswer

ProbePlanner = Callable[[ClusterView], Sequence[Probe]]

log = logging.getLogger(__name__)

PAGE_SIZE = 500
USER_AGENT = f"gdoctor/{__version__}"
_CONNECT_TIMEOUT = 5.0
_PARALLEL_READS = 4


class _HttpError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}" if message else f"HTTP {status}")
        self.status = status


class _Unreachable(Exception):
    pass


@dataclass(slots=True)
class _Connection:
    target: Target
    client: ApiClient
    timeout: float
    group_versions: dict[str, list[str]] = field(default_factory=dict)
    resources: dict[str, set[str]] = field(default_factory=dict)
    discovery_failures: dict[str, str] = field(default_factory=dict)
    """group -> why discovering one of its versions failed (an aggregated API whose server is
    down answers 503): that group's kinds are unavailable, the rest of the cluster is read."""

    def get_json(self, path: str, query: Sequence[tuple[str, str]] = ()) -> Any:
        status, reason, body = self.send("GET", path, query)
        if not 200 <= status < 300:
            raise _HttpError(status, reason, _status_message(body))
        with gc_paused():
            return json.loads(body)

    def send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> tuple[int, str, bytes]:
        """One request; the status, reason and body whatever the status. No answer raises."""
        _, url, headers, _, _ = self.client.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["BearerToken"],
        )
        all_headers = HTTPHeaderDict(headers)
        for name, value in extra_headers:
            # Impersonate-Group repeats: one header per group, as the apiserver expects.
            all_headers.add(name, value)
        log.debug("%s %s %s", self.target.name, method, url)
        try:
            response = self.client.call_api(
                method,
                url,
                header_params=all_headers,
                body=body,
                _request_timeout=(min(_CONNECT_TIMEOUT, self.timeout), self.timeout),
            )
            data = response.read()
        except Exception as exc:  # urllib3 raises many kinds; all mean "no answer"
            raise _Unreachable(_reason(exc)) from None
        return response.status, response.reason or "", data


def _status_message(body: bytes) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        return ""
    return str(message)


def _reason(exc: BaseException) -> str:
    # urllib3 nests the root cause (connection refused, timeout) in `reason`.
    root: BaseException = exc
    while isinstance(getattr(root, "reason", None), BaseException):
        root = getattr(root, "reason")  # noqa: B009 (mypy cannot see the attribute)
    text = str(root).split(": ", 1)[-1] if ": " in str(root) else str(root)
    return text or type(root).__name__


# The client's kubeconfig loader writes certificate data to shared temporary files, cached by
# content: contexts sharing a CA, loaded from several threads, could read a file another thread
# had not finished writing ("no certificate or crl found"). Loading is quick; serialize it.
_LOADING = threading.Lock()


# urllib3 warns on every request to a server whose certificate is not verified: dozens of
# two-line warnings a run. gdoctor says it once per context instead (below).
warnings.filterwarnings("ignore", category=InsecureRequestWarning)
_WARNED_INSECURE: set[str] = set()


def connect(target: Target, timeout: float) -> ApiClient:
    configuration = Configuration()
    with _LOADING:
        _load_credentials(target, configuration)
        if not configuration.verify_ssl and target.name not in _WARNED_INSECURE:
            _WARNED_INSECURE.add(target.name)
            log.warning(
                "context %s skips TLS verification (insecure-skip-tls-verify): the identity of "
                "%s is not checked",
                target.name,
                target.server,
            )
    # One quick failure beats three slow ones: an unreachable cluster is reported, not retried.
    configuration.retries = 0
    client = ApiClient(configuration)
    client.user_agent = USER_AGENT
    return client


def _load_credentials(target: Target, configuration: Configuration) -> None:
    if target.kubeconfig is None:
        kube_config.load_incluster_config(client_configuration=configuration)
    else:
        kube_config.load_kube_config(
            config_file=target.kubeconfig,
            context=target.name,
            client_configuration=configuration,
            persist_config=False,
        )


def read_cluster(
    target: Target,
    reads: Sequence[Read],
    timeout: float,
    plan_probes: ProbePlanner | None = None,
) -> ClusterView:
    observed_at = datetime.now(UTC)
    view = ClusterView(name=target.name, server=target.server, observed_at=observed_at)
    try:
        client = connect(target, timeout)
    except (ConfigException, OSError, ValueError) as exc:
        return _unreachable(view, f"cannot use the credentials of context {target.name}: {exc}")
    try:
        connection = _Connection(target, client, timeout)
        try:
            version = connection.get_json("/version")
        except _Unreachable as exc:
            return _unreachable(view, f"{target.server} did not answer: {exc}")
        except _HttpError as exc:
            if exc.status == 401:
                return _unreachable(view, "the server rejected the credentials (401 Unauthorized)")
            return _unreachable(view, f"{target.server}: {exc}")
        view.kubernetes_version = str(version.get("gitVersion", ""))
        view.observed_at = datetime.now(UTC)
        try:
            _discover(connection, {r.kind.group for r in reads if r.kind.group})
        except (_Unreachable, _HttpError) as exc:
            return _unreachable(view, f"discovery failed: {exc}")
        with ThreadPoolExecutor(_PARALLEL_READS, thread_name_prefix=f"read-{target.name}") as pool:
            answers = list(pool.map(lambda r: _answer(connection, r), reads))
        view.answers = dict(zip(reads, answers, strict=True))
        if plan_probes is not None:
            probes = list(dict.fromkeys(plan_probes(view)))
            view.probe_answers = {p: _send_probe(connection, p) for p in probes}
        return view
    finally:
        client.close()


def read_clusters(
    targets: Sequence[Target],
    reads: Sequence[Read],
    timeout: float,
    progress: Callable[[str], None] | None = None,
    plan_probes: ProbePlanner | None = None,
) -> list[ClusterView]:
    """Every target read concurrently; the views come back in the targets' order."""
    if not targets:
        return []

    def read(target: Target) -> ClusterView:
        view = read_cluster(target, reads, timeout, plan_probes)
        if progress is not None:
            progress(f"read {target.name}" + ("" if view.reachable else " (unreachable)"))
        return view

    with ThreadPoolExecutor(len(targets), thread_name_prefix="cluster") as pool:
        return list(pool.map(read, targets))


def _unreachable(view: ClusterView, reason: str) -> ClusterView:
    view.reachable = False
    view.error = reason
    return view


def _discover(connection: _Connection, groups: Iterable[str]) -> None:
    wanted = set(groups)
    if not wanted:
        return
    listing = connection.get_json("/apis")
    for group in listing.get("groups", []):
        name = group.get("name")
        if name not in wanted:
            continue
        preferred = (group.get("preferredVersion") or {}).get("version")
        versions = [v["version"] for v in group.get("versions", [])]
        # The server's preferred version first, then the rest in the server's priority order.
        ordered = ([preferred] if preferred else []) + [v for v in versions if v != preferred]
        connection.group_versions[name] = ordered
        for version in ordered:
            try:
                resources = connection.get_json(f"/apis/{name}/{version}")
            except (_HttpError, _Unreachable) as exc:
                # One group's server (an aggregated APIService) failing says nothing of the
                # others: its kinds become unavailable with the reason.
                detail = str(exc) if isinstance(exc, _HttpError) else f"no answer ({exc})"
                connection.discovery_failures.setdefault(
                    name, f"discovery of {name}/{version} failed: {detail}"
                )
                continue
            connection.resources[f"{name}/{version}"] = {
                r["name"] for r in resources.get("resources", []) if "/" not in r["name"]
            }


def _served_version(connection: _Connection, kind: Kind) -> str | None:
    if not kind.group:
        return "v1"
    for version in connection.group_versions.get(kind.group, []):
        if kind.versions and version not in kind.versions:
            continue
        if kind.resource in connection.resources.get(f"{kind.group}/{version}", set()):
            return version
    return None


def _path(kind: Kind, version: str, namespace: str | None, name: str | None) -> str:
    base = f"/api/{version}" if not kind.group else f"/apis/{kind.group}/{version}"
    if namespace is not None and kind.namespaced:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{kind.resource}"
    if name is not None:
        base += f"/{quote(name, safe='')}"
    return base


def _answer(connection: _Connection, read: Read) -> ReadAnswer:
    version = _served_version(connection, read.kind)
    if version is None:
        what = read.kind.qualified
        failure = connection.discovery_failures.get(read.kind.group)
        if failure is not None:
            return ReadAnswer(unavailable=f"API unavailable: {what}: {failure}")
        if read.kind.group and read.kind.group not in connection.group_versions:
            return ReadAnswer(unavailable=f"CRD absent: {what} is not served by this cluster")
        return ReadAnswer(unavailable=f"not served: {what} at any version gdoctor reads")
    api_version = f"{read.kind.group}/{version}" if read.kind.group else version
    path = _path(read.kind, version, read.namespace, read.name)
    try:
        if read.name is not None:
            objects = _get(connection, path)
        else:
            objects = _list(connection, path, read, api_version)
        return ReadAnswer(objects, api_version=api_version)
    except _HttpError as exc:
        if exc.status == 403:
            where = f" in {read.namespace}" if read.namespace else ""
            return ReadAnswer(unavailable=f"forbidden: {read.verb} {read.kind.qualified}{where}")
        return ReadAnswer(failed=f"{read.describe()}: {exc}")
    except _Unreachable as exc:
        return ReadAnswer(failed=f"{read.describe()}: no answer ({exc})")


def _get(connection: _Connection, path: str) -> tuple[Any, ...]:
    try:
        obj = connection.get_json(path)
    except _HttpError as exc:
        if exc.status == 404:
            return ()
        raise
    return (_without_managed_fields(obj),)


def _without_managed_fields(obj: Any) -> Any:
    """No check reads managedFields, and they are about half of each object's bytes: dropped
    at the read, they cost neither memory nor a bundle's size."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return obj


def _list(connection: _Connection, path: str, read: Read, api_version: str) -> tuple[Any, ...]:
    items: list[Any] = []
    token = ""
    while True:
        query = [("limit", str(PAGE_SIZE))]
        if read.label_selector:
            query.append(("labelSelector", read.label_selector))
        if token:
            query.append(("continue", token))
        page = connection.get_json(path, query)
        for item in page.get("items", []):
            # Items of a list carry no apiVersion/kind; resource references need them.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", read.kind.kind)
            items.append(_without_managed_fields(item))
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return tuple(items)


def _send_probe(connection: _Connection, probe: Probe) -> ProbeAnswer:
    """A server-side dry run: admission judges it, nothing is stored. The answer is recorded
    verbatim so checks (and a bundle's replay) read exactly what the server said."""
    version = _served_version(connection, probe.kind) or "v1"
    path = _path(probe.kind, version, probe.namespace, None)
    headers = [("Impersonate-User", probe.impersonate_user)] if probe.impersonate_user else []
    headers += [("Impersonate-Group", group) for group in probe.impersonate_groups]
    try:
        status, reason, body = connection.send(
            # The client serializes JSON bodies itself: hand it the object, not the text.
            "POST",
            path,
            [("dryRun", "All")],
            json.loads(probe.body),
            headers,
        )
    except _Unreachable as exc:
        return ProbeAnswer(status=0, message=f"no answer: {exc}", reason="Unreachable")
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    if 200 <= status < 300:
        return ProbeAnswer(status=status)
    return ProbeAnswer(
        status=status,
        message=str(document.get("message") or reason),
        reason=str(document.get("reason") or ""),
    )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The server's answer to one write: the stored object, or why not (verbatim)."""

    status: int
    message: str = ""
    stored: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def conflict(self) -> bool:
        """The object changed since it was read (resourceVersion precondition failed)."""
        return self.status == 409


class KubeWriter:
    """Writes for the fixer, to one cluster: update (PUT with the read resourceVersion as
    precondition), create, delete, each optionally as a server-side dry run."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._client = connect(target, timeout)
        self._connection = _Connection(target, self._client, timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KubeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, kind: Kind, like: Any) -> Any:
        """The object ``like`` names (apiVersion, namespace, name) as stored now, or None."""
        status, reason, body = self._send("GET", _object_path(kind, like, named=True))
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise _HttpError(status, reason, _status_message(body))
        with gc_paused():
            return json.loads(body)

    def probe(self, probe: Probe) -> ProbeAnswer:
        """A server-side dry run, answered as a check's probe is."""
        return _send_probe(self._connection, probe)

    def update(self, kind: Kind, obj: Any, dry_run: bool = False) -> WriteResult:
        """PUT the whole object; its metadata.resourceVersion makes it fail (409) if the object
        changed since it was read, so a concurrent edit is never overwritten."""
        return self._write("PUT", _object_path(kind, obj, named=True), obj, dry_run)

    def create(self, kind: Kind, obj: Any, dry_run: bool = False) -> WriteResult:
        return self._write("POST", _object_path(kind, obj, named=False), obj, dry_run)

    def delete(self, kind: Kind, obj: Any, dry_run: bool = False) -> WriteResult:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": obj["metadata"].get("uid")},
        }
        if dry_run:
            # With a body the apiserver reads the options from it alone, ignoring the query's
            # dryRun: without this a dry-run delete deletes.
            body["dryRun"] = ["All"]
        return self._write("DELETE", _object_path(kind, obj, named=True), body, dry_run)

    def _write(self, method: str, path: str, body: Any, dry_run: bool) -> WriteResult:
        query = [("dryRun", "All")] if dry_run else []
        try:
            status, reason, data = self._connection.send(method, path, query, body)
        except _Unreachable as exc:
            return WriteResult(0, f"no answer: {exc}")
        if 200 <= status < 300:
            return WriteResult(status, stored=json.loads(data) if data else None)
        return WriteResult(status, _status_message(data) or reason)

    def _send(self, method: str, path: str) -> tuple[int, str, bytes]:
        try:
            return self._connection.send(method, path)
        except _Unreachable as exc:
            raise _HttpError(0, "no answer", str(exc)) from None


def _object_path(kind: Kind, obj: Any, named: bool) -> str:
    """The object's URL at the apiVersion it carries (as read, or as the fix built it)."""
    api_version = str(obj["apiVersion"])
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    namespace = obj["metadata"].get("namespace")
    if namespace and kind.namespaced:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{kind.resource}"
    if named:
        base += f"/{quote(obj['metadata']['name'], safe='')}"
    return base


# Pods whose logs a bundle may carry: Submariner's, kube-proxy, Calico and the external dnsmasq.
_LOG_SOURCES = (
    ("kube-system", "k8s-app=kube-proxy"),
    ("kube-system", "k8s-app=calico-node"),
)


def pod_logs(
    target: Target, settings: Any, since_seconds: int, max_bytes: int
) -> list[tuple[str, str, str | None]]:
    """(namespace/pod/container, log text, why missing) for every pod a bundle's --logs covers,
    each capped at ``max_bytes``; a failure is recorded, never raised."""
    dnsmasq_namespace = settings.dnsmasq_configmap.partition("/")[0]
    sources = [(settings.submariner_namespace, None), *_LOG_SOURCES]
    if dnsmasq_namespace != settings.submariner_namespace:
        sources.append((dnsmasq_namespace, None))
    found: list[tuple[str, str, str | None]] = []
    try:
        client = connect(target, settings.request_timeout)
    except (ConfigException, OSError, ValueError) as exc:
        return [(target.name, "", f"cannot connect: {exc}")]
    try:
        connection = _Connection(target, client, settings.request_timeout)
        for namespace, selector in sources:
            query = [("labelSelector", selector)] if selector else []
            try:
                pods = connection.get_json(f"/api/v1/namespaces/{namespace}/pods", query)
            except (_HttpError, _Unreachable) as exc:
                found.append((f"{namespace}/*", "", f"cannot list pods: {exc}"))
                continue
            for pod in pods.get("items", []):
                name = pod["metadata"]["name"]
                for container in pod.get("spec", {}).get("containers", []):
                    member = f"{namespace}/{name}/{container['name']}"
                    path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
                    params = [
                        ("container", container["name"]),
                        ("sinceSeconds", str(since_seconds)),
                        ("limitBytes", str(max_bytes)),
                    ]
                    try:
                        status, reason, body = connection.send("GET", path, params)
                    except _Unreachable as exc:
                        found.append((member, "", f"no answer: {exc}"))
                        continue
                    if 200 <= status < 300:
                        found.append((member, body.decode("utf-8", "replace"), None))
                    else:
                        found.append(
                            (member, "", f"HTTP {status}: {_status_message(body) or reason}")
                        )
    finally:
        client.close()
    return found
