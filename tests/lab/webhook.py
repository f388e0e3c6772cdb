"""A real externalIP admission webhook for the lab, as kubernetes-sigs/externalip-webhook behaves.

What it mirrors (externalip-webhook `main.go` and `pkg/validator/service_validator.go`):
- flags `--allowed-external-ip-cidrs`, `--allowed-usernames`, `--allowed-groups` (pflag string
  slices: comma-separated, repeatable, `--flag=value` or `--flag value`);
- a Service without `externalIPs` is always allowed;
- with `externalIPs`, a user that is neither in the allowed usernames nor in an allowed group is
  denied ("user %s is not alllowed to specify externalIP", the upstream spelling) unless both
  lists are empty; an allowed user still needs every IP inside an allowed CIDR;
- each IP outside every allowed CIDR is denied with
  `spec.externalIPs: Invalid value: "<ip>": externalIP specified is not allowed to use`, carried,
  as controller-runtime's `admission.Denied` does, in the status `reason` with code 403, so the
  apiserver answers `admission webhook "validate-externalip.webhook.svc" denied the request: ...`.

The arguments come from the webhook Deployment stored in the lab cluster, read again on every
admission request, so editing the Deployment changes what the webhook allows, as a rollout would
in a cluster. A Deployment that is gone, scaled to 0 replicas, or passes a CIDR the real binary
cannot parse (it exits at start) has no pod to answer: the connection is closed unanswered and
the apiserver reports `failed calling webhook`.

Where it runs: the apiservers live in a network namespace with only `lo`, so they cannot reach
this process's loopback. The server listens on a Unix socket (which crosses namespaces because
it is a file) and a socat relay inside the namespace listens on 127.0.0.1:WEBHOOK_INNER_PORT and
forwards to it; all traffic stays on loopback and Unix sockets. TLS is end to end: the server
presents the lab's serving certificate (IP 127.0.0.1, signed by the lab CA), and the webhook
configuration carries the lab CA as caBundle.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from .client import JsonObject
from .unixhttps import UnixHttpsServer, server_tls
from .unixhttps import relay_argv as unix_relay_argv

WEBHOOK_NAMESPACE = "externalip-validation-system"
WEBHOOK_DEPLOYMENT = "externalip-validation-webhook"
WEBHOOK_NAME = "validate-externalip.webhook.svc"
WEBHOOK_CONFIGURATION = "externalip-validation-webhook-configuration"
WEBHOOK_PATH = "/validate-service"
# Inside the lab's namespace only the apiservers (6443...) and etcd (2379, 2380) listen; 9443
# is the port upstream's webhook serves on.
WEBHOOK_INNER_PORT = 9443

CIDRS_FLAG = "--allowed-external-ip-cidrs"
USERNAMES_FLAG = "--allowed-usernames"
GROUPS_FLAG = "--allowed-groups"

# A dry-run create of a Service with this name tells the lab whether an apiserver calls the
# webhook yet (its webhook informer lags a configuration change by a few milliseconds).
CANARY_SERVICE = "gdoctor-lab-webhook-canary"

# The lab loader's own objects carry this label; the webhook ignores them so a scenario can
# load any Service (Globalnet's internal ones included) whatever the webhook allows.
_LOADER_LABEL = "gdoctor-lab/loaded"

DeploymentReader = Callable[[str, str, str], JsonObject | None]
"""(cluster, namespace, name) -> the Deployment as stored, or None when it does not exist."""
DeploymentStatusWriter = Callable[[str, JsonObject], None]
"""(cluster, Deployment) -> writes its status as rolled out to its current generation."""


def flag_values(words: Sequence[str], flag: str) -> list[str]:
    """Every value of a pflag string-slice flag: `--f=a,b`, `--f a,b`, repeated flags append.

    Written apart from gdoctor's own reading (checks/_admission.py) on purpose: the lab plays
    the real webhook, so a mistake in gdoctor's parser must not be shared by what it is tested
    against."""
    values: list[str] = []
    for index, word in enumerate(words):
        if word.startswith(f"{flag}="):
            raw = word.split("=", 1)[1]
        elif word == flag and index + 1 < len(words):
            raw = words[index + 1]
        else:
            continue
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def container_words(deployment: Mapping[str, Any]) -> list[str]:
    """command + args of every container of the Deployment's pod template."""
    template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    words: list[str] = []
    for container in template.get("containers") or []:
        words += [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    return words


@dataclass(frozen=True)
class WebhookPolicy:
    """What the webhook process would enforce, started with a Deployment's arguments."""

    cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    usernames: frozenset[str]
    groups: frozenset[str]

    @classmethod
    def from_deployment(cls, deployment: Mapping[str, Any]) -> WebhookPolicy | None:
        """None when no webhook pod would be running to answer."""
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        if replicas is not None and int(replicas) == 0:
            return None
        words = container_words(deployment)
        try:
            cidrs = tuple(ipaddress.ip_network(c) for c in flag_values(words, CIDRS_FLAG))
        except ValueError:
            return None  # upstream exits at start on an unparsable CIDR: CrashLoopBackOff
        return cls(
            cidrs,
            frozenset(flag_values(words, USERNAMES_FLAG)),
            frozenset(flag_values(words, GROUPS_FLAG)),
        )

    def _user_may_set_external_ips(self, username: str, groups: Iterable[str]) -> bool:
        if not self.usernames and not self.groups:
            return True
        return username in self.usernames or any(g in self.groups for g in groups)

    def judge(self, service: Mapping[str, Any], user: Mapping[str, Any]) -> tuple[bool, str]:
        """(allowed, reason) for a Service created or updated by `user` (AdmissionReview
        userInfo)."""
        external_ips = [str(ip) for ip in (service.get("spec") or {}).get("externalIPs") or []]
        username = str(user.get("username", ""))
        if external_ips and not self._user_may_set_external_ips(username, user.get("groups") or []):
            return False, f"user {username} is not alllowed to specify externalIP"
        for text in external_ips:
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                return False, _invalid(text, "externalIP specified is not valid")
            if not any(ip in network for network in self.cidrs):
                return False, _invalid(text, "externalIP specified is not allowed to use")
        return True, "passed svc spec validation"


@dataclass(frozen=True)
class _Rollout:
    """Which Deployment generation the answering pods run, and the one rolling out since when."""

    running: object
    policy: WebhookPolicy | None
    wanted: object
    since: float


def _generation(deployment: Mapping[str, Any] | None) -> object:
    if deployment is None:
        return None
    metadata = deployment.get("metadata") or {}
    return (metadata.get("uid"), metadata.get("generation"))


def _invalid(value: str, detail: str) -> str:
    # field.Invalid(field.NewPath("spec").Child("externalIPs"), value, detail).Error()
    return f'spec.externalIPs: Invalid value: "{value}": {detail}'


@dataclass(frozen=True)
class AdmissionRecord:
    """One admission request the webhook answered (for tests)."""

    cluster: str
    operation: str
    username: str
    dry_run: bool
    allowed: bool
    reason: str


class _Handler(BaseHTTPRequestHandler):
    server: UnixHttpsServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        cluster = self.path.split("?", 1)[0].strip("/").split("/", 1)[0]
        answer = self.server.app.review(cluster, body)
        if answer is None:
            # No webhook pod: close without an answer, as a connection to nothing would.
            self.close_connection = True
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The client address of a Unix socket is "", which the default implementation indexes.
        self.server.app.log(format % args)


class ExternalIpWebhook:
    """The webhook server. `start()` listens on `socket_path`; `configuration(cluster, url)`
    is the ValidatingWebhookConfiguration that points a cluster's apiserver at it."""

    def __init__(
        self,
        socket_path: Path,
        cert_file: Path,
        key_file: Path,
        ca_file: Path,
        read_deployment: DeploymentReader,
        log_file: Path,
        write_deployment_status: DeploymentStatusWriter | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.ca_file = ca_file
        self.tls = server_tls(cert_file, key_file)
        self._read_deployment = read_deployment
        self._write_deployment_status = write_deployment_status
        self._log_file = log_file
        self._lock = threading.Lock()
        self._records: list[AdmissionRecord] = []
        self._canaries: dict[str, int] = {}
        self._rollout_seconds = 0.0
        self._rollouts: dict[str, _Rollout] = {}
        self._server: UnixHttpsServer | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> ExternalIpWebhook:
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        self._server = UnixHttpsServer(self.socket_path, _Handler, self.tls, self).start(
            "lab-externalip-webhook"
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def log(self, line: str) -> None:
        with self._lock, self._log_file.open("a") as log:
            log.write(line + "\n")

    # -- admission -----------------------------------------------------------------------

    def records(self, cluster: str | None = None) -> list[AdmissionRecord]:
        with self._lock:
            return [r for r in self._records if cluster is None or r.cluster == cluster]

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()
            self._rollouts.clear()

    def set_rollout_seconds(self, seconds: float) -> None:
        """How long a changed Deployment takes to roll out: until then the pods started from
        the previous one keep answering with its arguments (0: at once, the default)."""
        with self._lock:
            self._rollout_seconds = seconds
            self._rollouts.clear()

    def _report_rollout(self, cluster: str, deployment: JsonObject | None) -> None:
        """As the Deployment controller would: once the pods of the current generation answer,
        its status says the rollout is complete (`kubectl rollout status` reads that)."""
        if deployment is None or self._write_deployment_status is None:
            return
        generation = _generation(deployment)
        with self._lock:
            rollout = self._rollouts.get(cluster)
            done = rollout is not None and rollout.running == generation
        # Only after a change: a Deployment loaded with a status keeps it as written.
        observed = (deployment.get("status") or {}).get("observedGeneration")
        current = (deployment.get("metadata") or {}).get("generation", 1)
        if done and isinstance(observed, int) and observed < current:
            self._write_deployment_status(cluster, deployment)

    def _running_policy(self, cluster: str, deployment: JsonObject | None) -> WebhookPolicy | None:
        """The policy of the pods answering now: the Deployment's, or during a rollout the
        previous one's."""
        generation = _generation(deployment)
        policy = WebhookPolicy.from_deployment(deployment) if deployment is not None else None
        now = time.monotonic()
        with self._lock:
            rollout = self._rollouts.get(cluster)
            if rollout is None or self._rollout_seconds <= 0:
                self._rollouts[cluster] = _Rollout(generation, policy, generation, now)
                return policy
            if generation != rollout.wanted:
                rollout = _Rollout(rollout.running, rollout.policy, generation, now)
                self._rollouts[cluster] = rollout
            if rollout.running == generation:
                return policy
            if now - rollout.since >= self._rollout_seconds:
                self._rollouts[cluster] = _Rollout(generation, policy, generation, now)
                return policy
        self.log(f"{cluster}: rolling out; the previous pods answer")
        return rollout.policy

    def canaries_seen(self, cluster: str) -> int:
        """How many canary Services from `cluster` reached the webhook so far."""
        with self._lock:
            return self._canaries.get(cluster, 0)

    def review(self, cluster: str, body: bytes) -> JsonObject | None:
        """The AdmissionReview answer for one request; None when no webhook pod would answer."""
        review = json.loads(body)
        request = review.get("request") or {}
        service = request.get("object") or {}
        if (service.get("metadata") or {}).get("name") == CANARY_SERVICE:
            with self._lock:
                self._canaries[cluster] = self._canaries.get(cluster, 0) + 1
            return _answer(review, request, True, "lab canary")
        deployment = self._read_deployment(cluster, WEBHOOK_NAMESPACE, WEBHOOK_DEPLOYMENT)
        policy = self._running_policy(cluster, deployment)
        self._report_rollout(cluster, deployment)
        if policy is None:
            self.log(f"{cluster}: no webhook pod would answer; closing the connection")
            return None
        user = request.get("userInfo") or {}
        allowed, reason = policy.judge(service, user)
        record = AdmissionRecord(
            cluster=cluster,
            operation=str(request.get("operation", "")),
            username=str(user.get("username", "")),
            dry_run=bool(request.get("dryRun")),
            allowed=allowed,
            reason=reason,
        )
        with self._lock:
            self._records.append(record)
        self.log(f"{cluster}: {record}")
        return _answer(review, request, allowed, reason)

    def configuration(self, cluster: str) -> JsonObject:
        """The ValidatingWebhookConfiguration for `cluster` (see `configuration`)."""
        return configuration(cluster, base64.b64encode(self.ca_file.read_bytes()).decode())


def configuration(cluster: str, ca_bundle: str) -> JsonObject:
    """The lab's ValidatingWebhookConfiguration for `cluster`: Services CREATE/UPDATE,
    side-effect free (so server-side dry runs reach it), never for the loader's own objects.
    tests/offline adds it (with an empty caBundle) wherever the lab registers it."""
    url = f"https://127.0.0.1:{WEBHOOK_INNER_PORT}/{cluster}{WEBHOOK_PATH}"
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIGURATION},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {"url": url, "caBundle": ca_bundle},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["services", "services/status"],
                        "scope": "Namespaced",
                    }
                ],
                # As upstream's config/webhook/manifests.yaml: a webhook without pods is
                # visible to the apiserver's callers.
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "timeoutSeconds": 5,
                "objectSelector": {
                    "matchExpressions": [{"key": _LOADER_LABEL, "operator": "DoesNotExist"}]
                },
            }
        ],
    }


def registers_lab_webhook(objects: Iterable[Mapping[str, Any]]) -> bool:
    """Whether loading `objects` registers the lab's webhook: they hold the webhook Deployment
    and no ValidatingWebhookConfiguration of the lab's name (a scenario's own one, e.g. one
    that does not select Services, takes its place)."""
    items = list(objects)
    own = any(
        obj.get("kind") == "ValidatingWebhookConfiguration"
        and (obj.get("metadata") or {}).get("name") == WEBHOOK_CONFIGURATION
        for obj in items
    )
    return not own and any(is_webhook_deployment(obj) for obj in items)


def _answer(
    review: Mapping[str, Any], request: Mapping[str, Any], allowed: bool, reason: str
) -> JsonObject:
    response: JsonObject = {
        "uid": request.get("uid", ""),
        "allowed": allowed,
        # controller-runtime's ValidationResponse puts the text in `reason`, code 403 or 200.
        "status": {"code": 200 if allowed else 403, "reason": reason},
    }
    if not allowed:
        response["auditAnnotations"] = {"error": reason}
    return {
        "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
        "kind": "AdmissionReview",
        "response": response,
    }


def canary_service() -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": CANARY_SERVICE, "namespace": "default"},
        "spec": {"ports": [{"port": 1}]},
    }


def is_webhook_deployment(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata") or {}
    return (
        obj.get("kind") == "Deployment"
        and str(obj.get("apiVersion", "")).startswith("apps/")
        and metadata.get("namespace") == WEBHOOK_NAMESPACE
        and metadata.get("name") == WEBHOOK_DEPLOYMENT
    )


def relay_argv(socat: str, socket_path: Path) -> list[str]:
    """socat, run inside the lab's network namespace: 127.0.0.1:9443 there -> the Unix socket."""
    return unix_relay_argv(socat, WEBHOOK_INNER_PORT, socket_path)


__all__ = [
    "CANARY_SERVICE",
    "WEBHOOK_DEPLOYMENT",
    "WEBHOOK_NAME",
    "WEBHOOK_NAMESPACE",
    "AdmissionRecord",
    "ExternalIpWebhook",
    "WebhookPolicy",
    "canary_service",
    "configuration",
    "is_webhook_deployment",
    "registers_lab_webhook",
    "relay_argv",
]
