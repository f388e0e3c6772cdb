"""The Lab: one etcd and three kube-apiservers (member1..3) with the project's CRDs.

No controllers run (no kube-controller-manager, scheduler or kubelet): what a test loads stays
exactly as loaded, nothing reconciles, nothing is garbage-collected.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .bootstrap import aggregate_cluster_roles, install_crds, install_reader_rbac, wait_for_crds
from .client import JsonObject, KubeClient
from .controlplane import (
    AUDIT_POLICY,
    FIRST_INNER_APISERVER_PORT,
    ApiServerConfig,
    Tools,
    executes,
    has_own_netns,
    inside,
    start_apiserver,
    start_etcd,
    start_relays,
)
from .discovery import Discovery
from .errors import ApiError, LabError, LabStartError, LabUnavailable
from .kubeconfig import write_kubeconfig
from .kubelet import FIRST_PORT as KUBELET_FIRST_PORT
from .kubelet import LabKubelet
from .loader import Loader
from .pki import Pki, make_pki, make_users, write_token_file
from .procs import ManagedProcess, cpu_seconds, free_loopback_port, stop_all, wait_until
from .unixhttps import relay_argv as unix_relay_argv
from .webhook import (
    AdmissionRecord,
    ExternalIpWebhook,
    canary_service,
    registers_lab_webhook,
    relay_argv,
)

CLUSTERS: tuple[str, ...] = ("member1", "member2", "member3")
START_TIMEOUT = 120.0
# How long an apiserver may take to start or stop calling a webhook once its configuration
# was created or deleted (its informer usually takes milliseconds).
WEBHOOK_SYNC_TIMEOUT = 10.0
# Unix socket paths must fit in sun_path (108 bytes).
_MAX_SOCKET_PATH = 100


def default_binary() -> Path:
    cache = os.environ.get("GDOCTOR_LAB_CACHE") or str(Path.home() / ".cache" / "gdoctor-lab")
    return Path(cache) / "bin" / "kube-apiserver"


@dataclass
class _Cluster:
    name: str
    server: str
    audit_log: Path
    client: KubeClient
    discovery: Discovery
    loader: Loader
    processes: list[ManagedProcess] = field(default_factory=list)


class Lab:
    """A running lab. Build it with `Lab.start(workdir)`; stop it with stop() or `with`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.clusters: list[str] = list(CLUSTERS)
        self.kubeconfig = workdir / "kubeconfig"
        self.kubeconfig_reader = workdir / "kubeconfig-reader"
        self.kubeconfig_nobody = workdir / "kubeconfig-nobody"
        self.admin_token = ""
        self.ca_cert = workdir / "pki" / "ca.crt"
        self.startup_seconds = 0.0
        # Seconds since start() began at which each startup phase ended (for tuning).
        self.startup_phases: dict[str, float] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._processes: list[ManagedProcess] = []
        self._socket_dir: Path | None = None
        self._webhook: ExternalIpWebhook | None = None
        self._kubelets: dict[str, LabKubelet] = {}
        self._webhook_clusters: set[str] = set()
        self._webhook_lock = threading.Lock()
        self._stopped = False
        self._began = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def start(cls, workdir: Path, binary: Path | None = None) -> Lab:
        """Starts etcd and the three apiservers, installs CRDs and RBAC, writes kubeconfigs.

        Raises LabUnavailable when a prerequisite is missing, LabStartError (with process log
        tails) when something fails to come up. Call it from a long-lived thread: children are
        tied to the starting thread by the kernel's parent-death signal.
        """
        binary = binary if binary is not None else default_binary()
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise LabUnavailable(
                f"kube-apiserver not found at {binary}; build it once with "
                "`bash tests/lab/build-kube-apiserver.sh` (or run tests/bootstrap.sh), "
                "or point GDOCTOR_LAB_CACHE at a cache holding bin/kube-apiserver"
            )
        tools = Tools.find()
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        lab = cls(workdir)
        lab._began = time.monotonic()
        try:
            lab._start(tools, binary)
        except BaseException:
            lab.stop()
            raise
        lab.startup_seconds = time.monotonic() - lab._began
        return lab

    def _mark(self, phase: str) -> None:
        self.startup_phases[phase] = round(time.monotonic() - self._began, 3)

    def _start(self, tools: Tools, binary: Path) -> None:
        logs = self.workdir / "logs"
        pki = make_pki(self.workdir / "pki")
        users = make_users()
        self.admin_token = users["admin"].token
        token_file = self.workdir / "tokens.csv"
        write_token_file(token_file, users)
        audit_policy = self.workdir / "audit-policy.yaml"
        audit_policy.write_text(AUDIT_POLICY)
        self._mark("pki")

        etcd = start_etcd(tools, self.workdir)
        self._processes.append(etcd)
        # Once the wrapper shell has exec'd etcd, lo is up in the new namespace.
        if not wait_until(lambda: executes(etcd.pid, tools.etcd) and has_own_netns(etcd.pid), 10):
            if "Operation not permitted" in etcd.tail():
                raise LabUnavailable(
                    "the lab needs root (CAP_SYS_ADMIN) to create its private network and mount "
                    "namespaces\n" + etcd.describe_failure()
                )
            raise LabStartError("etcd did not start in its namespace\n" + etcd.describe_failure())
        self._mark("etcd")

        servers: dict[str, str] = {}
        for index, name in enumerate(self.clusters):
            config = ApiServerConfig(
                cluster=name,
                inner_port=FIRST_INNER_APISERVER_PORT + index,
                cluster_dir=self.workdir / name,
                token_file=token_file,
                audit_policy=audit_policy,
                pki=pki,
            )
            apiserver = start_apiserver(tools, etcd.pid, binary, config, logs)
            outer_port = free_loopback_port()
            relays = start_relays(
                tools, etcd.pid, name, self._socket_path(name), config.inner_port, outer_port, logs
            )
            self._processes += [apiserver, *relays]
            servers[name] = f"https://127.0.0.1:{outer_port}"
            client = KubeClient(servers[name], self.admin_token, str(pki.ca_cert))
            discovery = Discovery(client)
            self._clusters[name] = _Cluster(
                name=name,
                server=servers[name],
                audit_log=config.audit_log,
                client=client,
                discovery=discovery,
                loader=Loader(client, discovery),
                processes=[apiserver, *relays],
            )

        # Started here, on the starting thread, because the relay's parent-death signal follows
        # the thread that forked it (a loader worker thread would take it down on exit).
        self._start_webhook(tools, etcd.pid, pki, logs)
        self._start_kubelets(tools, etcd.pid, pki, logs)
        self._wait_ready(etcd)
        self._mark("apiservers ready")
        self._write_kubeconfigs(servers, pki, users["reader"].token, users["nobody"].token)
        self._parallel(lambda c: self._bootstrap(c, users["reader"].name))
        self._mark("crds and rbac")

    def _start_webhook(self, tools: Tools, netns_pid: int, pki: Pki, logs: Path) -> None:
        """The externalIP webhook server (Unix socket) and its relay inside the namespace;
        clusters use it once registered (see register_externalip_webhook)."""
        socket_path = self._socket_path("webhook")
        self._webhook = ExternalIpWebhook(
            socket_path,
            pki.server_cert,
            pki.server_key,
            pki.ca_cert,
            self._read_deployment,
            logs / "externalip-webhook.log",
            self._write_deployment_status,
        ).start()
        relay = ManagedProcess(
            "relay-in externalip-webhook",
            inside(tools, netns_pid, relay_argv(tools.socat, socket_path)),
            logs / "relay-in-externalip-webhook.log",
        ).start()
        self._processes.append(relay)

    def _start_kubelets(self, tools: Tools, netns_pid: int, pki: Pki, logs: Path) -> None:
        """One log-serving kubelet per cluster, each at its own port inside the namespace."""
        for index, cluster in enumerate(self.clusters):
            port = KUBELET_FIRST_PORT + index
            socket_path = self._socket_path(f"kubelet-{cluster}")
            self._kubelets[cluster] = LabKubelet(
                port, socket_path, pki.server_cert, pki.server_key
            ).start()
            relay = ManagedProcess(
                f"relay-in kubelet {cluster}",
                inside(tools, netns_pid, unix_relay_argv(tools.socat, port, socket_path)),
                logs / f"relay-in-kubelet-{cluster}.log",
            ).start()
            self._processes.append(relay)

    def kubelet(self, cluster: str) -> LabKubelet:
        """The cluster's log-serving kubelet: load its `node()` and pods bound to it
        (spec.nodeName) to have the apiserver serve their logs; reset() clears them."""
        self._cluster(cluster)
        return self._kubelets[cluster]

    def _write_deployment_status(self, cluster: str, deployment: JsonObject) -> None:
        """The webhook's Deployment rolled out: its status, as its controller would write it."""
        metadata = deployment["metadata"]
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        counts = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        body = dict(deployment)
        body["status"] = {
            **(deployment.get("status") or {}),
            "observedGeneration": metadata.get("generation", 1),
            **dict.fromkeys(counts, replicas),
        }
        path = (
            f"/apis/apps/v1/namespaces/{metadata['namespace']}/deployments/"
            f"{metadata['name']}/status"
        )
        # Changed meanwhile, or the lab is stopping: the next review writes it.
        with contextlib.suppress(ApiError, LabError):
            self._cluster(cluster).client.put(path, body)

    def _read_deployment(self, cluster: str, namespace: str, name: str) -> JsonObject | None:
        """The Deployment the webhook takes its arguments from, read fresh on every review."""
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        try:
            return self._cluster(cluster).client.get(path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise
        except LabError:
            return None  # the lab is stopping

    def _socket_path(self, cluster: str) -> Path:
        if self._socket_dir is None:
            candidate = self.workdir / "sockets"
            # The longest name the lab gives a socket.
            if len(str(candidate / "kubelet-member1.sock")) > _MAX_SOCKET_PATH:
                candidate = Path(tempfile.mkdtemp(prefix="gdlab-"))
            candidate.mkdir(exist_ok=True)
            self._socket_dir = candidate
        return self._socket_dir / f"{cluster}.sock"

    def _wait_ready(self, etcd: ManagedProcess) -> None:
        pending = dict(self._clusters)
        last_answer: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT
        while pending:
            for name, cluster in list(pending.items()):
                status, body = cluster.client.get_text("/readyz", timeout=2.0)
                last_answer[name] = f"HTTP {status}: {body[-500:]}"
                if status == 200:
                    del pending[name]
            if not pending:
                return
            dead = [p for p in self._processes if p.exit_code() is not None]
            if dead or time.monotonic() >= deadline:
                why = "exited" if dead else f"not ready after {START_TIMEOUT:.0f}s"
                details = "\n".join(
                    [f"{n}: last /readyz answer: {last_answer.get(n)}" for n in pending]
                    + [p.describe_failure() for p in dead or [etcd, *self._cluster_procs(pending)]]
                )
                raise LabStartError(f"lab processes {why}:\n{details}")
            time.sleep(0.1)

    def _cluster_procs(self, clusters: Iterable[str]) -> list[ManagedProcess]:
        return [p for name in clusters for p in self._clusters[name].processes]

    def _bootstrap(self, cluster: _Cluster, reader: str) -> None:
        install_crds(cluster.client)
        aggregate_cluster_roles(cluster.client)
        install_reader_rbac(cluster.client, reader)
        wait_for_crds(cluster.client, cluster.discovery)

    def _write_kubeconfigs(
        self, servers: Mapping[str, str], pki: Pki, reader_token: str, nobody_token: str
    ) -> None:
        ca_pem = pki.ca_cert.read_bytes()
        write_kubeconfig(self.kubeconfig, servers, ca_pem, "admin", self.admin_token)
        write_kubeconfig(self.kubeconfig_reader, servers, ca_pem, "reader", reader_token)
        write_kubeconfig(self.kubeconfig_nobody, servers, ca_pem, "nobody", nobody_token)

    def stop(self) -> None:
        """Stops every process and waits for them. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._webhook is not None:
            self._webhook.stop()
        for kubelet in self._kubelets.values():
            kubelet.stop()
        for cluster in self._clusters.values():
            cluster.client.close()
        # Relays and apiservers first, etcd last, so apiservers do not log etcd errors.
        stop_all([p for p in self._processes if p.name != "etcd"])
        stop_all([p for p in self._processes if p.name == "etcd"])
        if self._socket_dir is not None and self._socket_dir.parent != self.workdir:
            for sock in self._socket_dir.glob("*.sock"):
                sock.unlink(missing_ok=True)
            self._socket_dir.rmdir()

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def settle(self, timeout: float = 30.0, window: float = 0.5, busy: float = 0.2) -> float:
        """Waits until etcd and the apiservers are idle: two consecutive `window`s in which
        together they used under `busy` of one core. Returns the seconds waited.

        Right after start() the apiservers spend a few CPU-seconds rebuilding their OpenAPI
        documents for the new CRDs (idle they use about 5% of a core in all); a benchmark
        should call this first so that work does not count against the code under test.
        """
        began = time.monotonic()
        pids = [p.pid for p in self._processes if not p.name.startswith("relay")]
        previous = sum(cpu_seconds(pid) for pid in pids)
        quiet = 0
        while quiet < 2 and time.monotonic() - began < timeout:
            time.sleep(window)
            current = sum(cpu_seconds(pid) for pid in pids)
            quiet = quiet + 1 if current - previous < busy * window else 0
            previous = current
        return time.monotonic() - began

    # -- addresses and files -------------------------------------------------------------

    def _cluster(self, name: str) -> _Cluster:
        if self._stopped:
            raise LabError("the lab is stopped")
        try:
            return self._clusters[name]
        except KeyError:
            raise LabError(f"no cluster {name!r}; the lab has {self.clusters}") from None

    def server(self, cluster: str) -> str:
        """https://127.0.0.1:PORT of the cluster's apiserver."""
        return self._cluster(cluster).server

    def audit_log(self, cluster: str) -> Path:
        return self._cluster(cluster).audit_log

    def audit_events(self, cluster: str, user_agent: str | None = None) -> list[JsonObject]:
        """Completed requests recorded in the cluster's audit log (stage ResponseComplete),
        optionally only those whose userAgent starts with `user_agent`."""
        path = self.audit_log(cluster)
        if not path.exists():
            return []
        events = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("stage") != "ResponseComplete":
                continue
            if user_agent is not None and not str(event.get("userAgent", "")).startswith(
                user_agent
            ):
                continue
            events.append(event)
        return events

    def log_files(self) -> list[Path]:
        return [p.log_path for p in self._processes]

    def client(self, cluster: str) -> KubeClient:
        """The lab's own admin JSON client for the cluster (user agent gdoctor-lab-loader)."""
        return self._cluster(cluster).client

    # -- scenario objects ----------------------------------------------------------------

    def apply(self, cluster: str, objects: Sequence[Mapping[str, Any]]) -> list[JsonObject]:
        """Creates the objects in the cluster (namespaces created as needed), labelled
        gdoctor-lab/loaded=true, with `status` written through /status where the kind has it.
        Returns the objects as stored.

        Loading the externalip-webhook Deployment (externalip-validation-system/
        externalip-validation-webhook) also registers the lab's webhook in that cluster, unless
        the objects bring their own ValidatingWebhookConfiguration of that name."""
        created = self._cluster(cluster).loader.apply(objects)
        if registers_lab_webhook(objects):
            self.register_externalip_webhook(cluster)
        return created

    def apply_many(
        self, cluster: str, objects: Sequence[Mapping[str, Any]], workers: int | None = None
    ) -> list[JsonObject]:
        """apply() for large loads (benchmarks). Fewer ``workers`` for Services: their
        clusterIP allocator is one compare-and-swap record, which many parallel creates fight
        over until the apiserver times them out."""
        return self._cluster(cluster).loader.apply(objects, workers)

    def load(self, scenario: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """apply() for several clusters at once: {"member1": [...], "member2": [...]}."""
        for name in scenario:
            self._cluster(name)
        with ThreadPoolExecutor(max_workers=len(scenario) or 1) as pool:
            list(pool.map(lambda name: self.apply(name, scenario[name]), scenario))

    # -- the externalIP admission webhook -------------------------------------------------

    def register_externalip_webhook(self, cluster: str) -> None:
        """Registers the lab's externalip-webhook in the cluster (a ValidatingWebhookConfiguration
        for Services, ignoring the loader's objects); reset() removes it. The webhook judges with
        the arguments of the cluster's Deployment externalip-validation-system/
        externalip-validation-webhook, read on every request: no Deployment (or 0 replicas)
        means no pod answers and the apiserver reports `failed calling webhook`. Idempotent."""
        target = self._cluster(cluster)
        if self._webhook is None:
            raise LabError("the lab's webhook server is not running")
        with self._webhook_lock:
            if cluster in self._webhook_clusters:
                return
            target.loader.apply([self._webhook.configuration(cluster)])
            self._webhook_clusters.add(cluster)
        self._wait_for_webhook(cluster, called=True)

    def _wait_for_webhook(self, cluster: str, called: bool) -> None:
        """Until the cluster's apiserver calls (or no longer calls) the webhook: a scenario must
        not race the apiserver's view of the configuration."""
        if self._webhook is None:
            return
        client = self._cluster(cluster).client
        deadline = time.monotonic() + WEBHOOK_SYNC_TIMEOUT
        last = ""
        while True:
            before = self._webhook.canaries_seen(cluster)
            try:
                client.request(
                    "POST",
                    "/api/v1/namespaces/default/services",
                    canary_service(),
                    query={"dryRun": "All"},
                )
                last = "the canary was admitted"
            except ApiError as err:
                last = str(err)
            if (self._webhook.canaries_seen(cluster) > before) == called:
                return
            if time.monotonic() >= deadline:
                state = "call" if called else "stop calling"
                raise LabError(
                    f"{cluster}'s apiserver did not {state} the externalIP webhook within "
                    f"{WEBHOOK_SYNC_TIMEOUT:.0f}s; last canary: {last}"
                )
            time.sleep(0.05)

    def webhook_reviews(self, cluster: str | None = None) -> list[AdmissionRecord]:
        """The admission requests the webhook answered (all clusters, or one), oldest first."""
        if self._webhook is None:
            return []
        return self._webhook.records(cluster)

    def set_webhook_rollout_seconds(self, seconds: float) -> None:
        """Makes a changed webhook Deployment take `seconds` to roll out, as pods would: the
        previous arguments answer meanwhile. reset() puts it back to 0 (at once)."""
        if self._webhook is None:
            raise LabError("the lab's webhook server is not running")
        self._webhook.set_rollout_seconds(seconds)

    def reset(self, *, everywhere: bool = False) -> None:
        """Deletes what apply() created, in every cluster (namespaces stay: with no namespace
        controller a deleted namespace would stay Terminating forever).

        everywhere=True also scans every served kind for labelled objects the loader did not
        create in this process (slower: one list per kind and cluster)."""
        if everywhere:
            self._parallel(lambda c: c.loader.reset_everywhere())
        else:
            self._parallel(lambda c: c.loader.reset())
        # The loader removed the webhook configurations (it created them).
        with self._webhook_lock:
            registered = sorted(self._webhook_clusters)
            self._webhook_clusters.clear()
        for cluster in registered:
            self._wait_for_webhook(cluster, called=False)
        if self._webhook is not None:
            self._webhook.clear_records()
            self._webhook.set_rollout_seconds(0)
        for kubelet in self._kubelets.values():
            kubelet.clear()

    def _parallel(self, fn: Callable[[_Cluster], object]) -> None:
        clusters = [self._cluster(name) for name in self.clusters]
        with ThreadPoolExecutor(max_workers=len(clusters)) as pool:
            list(pool.map(fn, clusters))


def iter_objects(documents: Iterable[Any]) -> Iterator[JsonObject]:
    """Flattens YAML documents and v1 `List` objects into single objects (None skipped)."""
    for doc in documents:
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and "items" in doc:
            yield from iter_objects(doc["items"])
        elif isinstance(doc, dict):
            yield doc
        else:
            raise LabError(f"not a Kubernetes object: {doc!r:.200}")
