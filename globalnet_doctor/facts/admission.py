"""Whether admission lets Globalnet create its internal Services (``externalIPs`` in the global
CIDR), judged two ways: statically from an externalip-webhook Deployment's arguments, and by a
server-side dry-run create impersonating Globalnet's service account (the probe).

GD301 owns the judgment; GD302 reads it to tell "admission still rejects it" from "admission
denied it earlier and nothing re-triggered it since".
"""

from __future__ import annotations

import enum
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings, split_name
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import Network, parse_network
from globalnet_doctor.facts.globalnet import globalnet_groups, globalnet_user
from globalnet_doctor.facts.submariner import global_cidr, submariner_cr
from globalnet_doctor.kinds import DryRunCreate, Read
from globalnet_doctor.view import (
    ClusterView,
    InputUnavailable,
    KubeObject,
    ProbeAnswer,
    ProbeNotRun,
)

CIDRS_FLAG = "--allowed-external-ip-cidrs"
USERNAMES_FLAG = "--allowed-usernames"
GROUPS_FLAG = "--allowed-groups"
PROBE_NAME_PREFIX = "gdoctor-admission-probe-"
DENY_SERVICE_EXTERNAL_IPS = "Use of external IPs is denied by admission control"
"""What the DenyServiceExternalIPs admission plugin answers."""

# What the apiserver says when admission, not RBAC, refuses a Service with externalIPs
# (reference/submariner.md §5.2): a webhook's denial, the DenyServiceExternalIPs plugin, and
# OpenShift's ExternalIPRanger.
_ADMISSION_DENIALS = (
    "denied the request",
    "denied by admission",
    "spec.externalIPs",
)


def webhook_reads(settings: Settings) -> tuple[Read, ...]:
    namespace, name = split_name(settings.webhook_deployment, "webhook_deployment")
    # The configurations say whether the apiserver calls the webhook for Services at all.
    return (Read(kinds.DEPLOYMENTS, namespace, name), Read(kinds.VALIDATING_WEBHOOKS))


def flag_values(words: Sequence[str], flag: str) -> list[str]:
    """The values of a string-slice flag as the webhook (pflag) parses them: ``--f=a,b`` or
    ``--f a,b``, repeated flags adding to the list."""
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


def _container_words(deployment: KubeObject) -> list[str]:
    template = objects.pod_template_spec(deployment)
    words: list[str] = []
    for container in template.get("containers") or []:
        words += [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    return words


def cidrs_cover(cidrs: Sequence[str], wanted: Network) -> bool:
    """Whether the allowed CIDRs, merged, contain all of ``wanted`` (two halves count too)."""
    networks = [n for n in (parse_network(c) for c in cidrs) if n is not None]
    if isinstance(wanted, ipaddress.IPv4Network):
        v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
        return any(wanted.subnet_of(n) for n in ipaddress.collapse_addresses(v4))
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return any(wanted.subnet_of(n) for n in ipaddress.collapse_addresses(v6))


def _any(values: Any, accepted: set[str]) -> bool:
    return isinstance(values, list) and bool(accepted & {str(v) for v in values})


def _selects_service_creates(webhook: Mapping[str, Any]) -> bool:
    """Whether one of the webhook's rules makes the apiserver call it when a core v1 Service is
    created (what Globalnet does)."""
    for rule in webhook.get("rules") or []:
        if not isinstance(rule, Mapping) or rule.get("scope") == "Cluster":
            continue
        if (
            _any(rule.get("apiGroups"), {"", "*"})
            and _any(rule.get("apiVersions"), {"v1", "*"})
            and _any(rule.get("operations"), {"CREATE", "*"})
            and _any(rule.get("resources"), {"services", "*", "*/*"})
        ):
            return True
    return False


def _calls_into(webhook: Mapping[str, Any], namespace: str) -> bool:
    """Whether the webhook's endpoint may be the Deployment's pods: a Service in its namespace,
    or a URL (which gdoctor cannot tie to a Deployment, so it counts)."""
    client = webhook.get("clientConfig")
    if not isinstance(client, Mapping):
        return False
    service = client.get("service")
    if isinstance(service, Mapping):
        return service.get("namespace") == namespace
    return bool(client.get("url"))


def registrations(view: ClusterView, deployment: KubeObject) -> tuple[str, ...] | None:
    """The ValidatingWebhookConfiguration webhooks (``configuration/webhook``) through which
    the apiserver calls the Deployment's webhook when a Service is created; None when gdoctor
    may not read the configurations (then the Deployment is assumed to enforce)."""
    namespace = str(objects.metadata(deployment).get("namespace") or "")
    try:
        configurations = view.list(kinds.VALIDATING_WEBHOOKS)
    except InputUnavailable:
        return None
    found: list[str] = []
    for configuration in configurations:
        for webhook in configuration.get("webhooks") or []:
            if (
                isinstance(webhook, Mapping)
                and _selects_service_creates(webhook)
                and _calls_into(webhook, namespace)
            ):
                found.append(f"{objects.metadata(configuration).get('name')}/{webhook.get('name')}")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class WebhookArgs:
    """What an externalip-webhook Deployment allows, and why that rejects Globalnet."""

    deployment: KubeObject
    cidrs: tuple[str, ...]
    usernames: tuple[str, ...]
    groups: tuple[str, ...]
    unparsable: tuple[str, ...] = ()
    covers_global_cidr: bool = True
    lets_globalnet_in: bool = True
    problems: tuple[str, ...] = field(default=())
    registered: tuple[str, ...] | None = None
    """The webhooks through which the apiserver calls it for Service creates (empty: it is
    never called, so its arguments reject nothing); None when that could not be read."""

    @property
    def enforced(self) -> bool:
        """Whether the apiserver calls this webhook for Service creates (assumed when unread)."""
        return self.registered is None or bool(self.registered)

    @property
    def rejects(self) -> bool:
        """Whether its arguments make admission reject Globalnet's Services: they are wrong and
        the apiserver calls it. A Deployment no configuration routes Services to enforces
        nothing, with or without the probe."""
        return bool(self.problems) and self.enforced

    @property
    def name(self) -> str:
        metadata = objects.metadata(self.deployment)
        return f"{metadata.get('namespace')}/{metadata.get('name')}"

    def evidence(self) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "deployment": self.name,
            "allowedExternalIPCidrs": list(self.cidrs),
            "allowedUsernames": list(self.usernames),
            "allowedGroups": list(self.groups),
        }
        if self.registered is not None:
            evidence["calledForServiceCreatesBy"] = list(self.registered)
        return evidence


def webhook_args(view: ClusterView, settings: Settings, global_cidr: Network) -> WebhookArgs | None:
    """The webhook Deployment's arguments judged against the global CIDR and Globalnet's service
    account; None when the cluster has no such Deployment."""
    namespace, name = split_name(settings.webhook_deployment, "webhook_deployment")
    deployment = view.get(kinds.DEPLOYMENTS, name, namespace)
    if deployment is None:
        return None
    words = _container_words(deployment)
    cidrs = tuple(flag_values(words, CIDRS_FLAG))
    usernames = tuple(flag_values(words, USERNAMES_FLAG))
    groups = tuple(flag_values(words, GROUPS_FLAG))
    user = globalnet_user(settings)
    problems: list[str] = []
    # The webhook parses each value with Go's net.ParseCIDR and exits when one fails.
    unparsable = tuple(c for c in cidrs if parse_network(c) is None or "/" not in c)
    if unparsable:
        problems.append(
            f"{CIDRS_FLAG} has {', '.join(unparsable)}, which is not a CIDR: the webhook "
            "cannot start"
        )
    covered = cidrs_cover(cidrs, global_cidr)
    if not covered:
        problems.append(
            f"{CIDRS_FLAG} ({', '.join(cidrs) or 'not set'}) does not cover the global CIDR "
            f"{global_cidr}"
        )
    # The webhook lets anyone set externalIPs when no usernames and no groups are given.
    let_in = not (usernames or groups)
    let_in = let_in or user in usernames or bool(set(groups) & set(globalnet_groups(settings)))
    if not let_in:
        problems.append(f"{USERNAMES_FLAG} ({', '.join(usernames) or 'not set'}) lacks {user}")
    return WebhookArgs(
        deployment,
        cidrs,
        usernames,
        groups,
        unparsable,
        covered,
        let_in,
        tuple(problems),
        registrations(view, deployment),
    )


def webhook_remedy(args: WebhookArgs, global_cidr: Network, settings: Settings) -> str:
    """What to change in the webhook Deployment's arguments (every other value kept)."""
    changes: list[str] = []
    if args.unparsable:
        changes.append(f"correct {', '.join(args.unparsable)} in {CIDRS_FLAG}")
    if not args.covers_global_cidr:
        changes.append(f"add {global_cidr} to {CIDRS_FLAG}")
    if not args.lets_globalnet_in:
        changes.append(f"add {globalnet_user(settings)} to {USERNAMES_FLAG}")
    return (
        f"In the webhook Deployment {args.name}, {' and '.join(changes)} (keep the other values)."
    )


def admission_probe(view: ClusterView, settings: Settings) -> DryRunCreate | None:
    """A dry-run create, as Globalnet's service account, of a Service like Globalnet's internal
    ones: ``externalIPs`` with one IP of the local global CIDR (the first host address; a dry
    run stores nothing, so the address need not be free). None without Globalnet."""
    if submariner_cr(view, settings) is None:
        return None
    network = parse_network(global_cidr(view, settings))
    if network is None:
        return None
    address = str(next(network.hosts(), network.network_address))
    namespace = settings.submariner_namespace
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            # generateName: never collides with an existing Service.
            "generateName": PROBE_NAME_PREFIX,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "gdoctor"},
        },
        "spec": {
            "type": "ClusterIP",
            "ports": [{"name": "probe", "port": 80, "protocol": "TCP"}],
            "externalIPs": [address],
        },
    }
    return DryRunCreate(
        kinds.SERVICES,
        namespace,
        json.dumps(body, sort_keys=True),
        impersonate_user=globalnet_user(settings),
        impersonate_groups=globalnet_groups(settings),
    )


class Verdict(enum.Enum):
    ADMITTED = "admitted"
    DENIED_BY_ADMISSION = "denied by admission"
    FORBIDDEN_BY_RBAC = "forbidden by RBAC"
    WEBHOOK_UNREACHABLE = "webhook unreachable"
    NOT_PERMITTED = "gdoctor may not impersonate"
    OTHER = "other answer"


def is_admission_denial(message: str) -> bool:
    return any(text in message for text in _ADMISSION_DENIALS)


def classify(answer: ProbeAnswer) -> Verdict:
    if answer.allowed:
        return Verdict.ADMITTED
    message = answer.message
    if "failed calling webhook" in message:
        return Verdict.WEBHOOK_UNREACHABLE
    if "cannot impersonate" in message:
        return Verdict.NOT_PERMITTED
    if is_admission_denial(message):
        return Verdict.DENIED_BY_ADMISSION
    if answer.status == 403 and "cannot create resource" in message:
        return Verdict.FORBIDDEN_BY_RBAC
    return Verdict.OTHER


@dataclass(frozen=True, slots=True)
class ProbeResult:
    probe: DryRunCreate
    answer: ProbeAnswer
    verdict: Verdict

    def evidence(self) -> dict[str, Any]:
        return {
            "request": self.probe.describe(),
            "externalIPs": json.loads(self.probe.body)["spec"]["externalIPs"],
            "status": self.answer.status,
            "reason": self.answer.reason,
            "message": self.answer.message,
        }


def probe_result(view: ClusterView, settings: Settings) -> ProbeResult | None:
    """The probe's answer, when it was sent in this run (by GD301 with probes on)."""
    probe = admission_probe(view, settings)
    if probe is None:
        return None
    try:
        answer = view.probe(probe)
    except ProbeNotRun:
        return None
    return ProbeResult(probe, answer, classify(answer))


class AdmissionNow(enum.Enum):
    REJECTS = "rejects"
    ALLOWS = "allows"
    UNKNOWN = "unknown"


def admission_now(
    view: ClusterView, settings: Settings, global_cidr: Network
) -> tuple[AdmissionNow, Mapping[str, Any]]:
    """Whether admission would accept Globalnet's internal Services now, and what says so: the
    probe's answer when it was sent, else the webhook Deployment's arguments, else unknown."""
    result = probe_result(view, settings)
    if result is not None and result.verdict is Verdict.ADMITTED:
        return AdmissionNow.ALLOWS, {"probe": result.evidence()}
    if result is not None and result.verdict is Verdict.DENIED_BY_ADMISSION:
        return AdmissionNow.REJECTS, {"probe": result.evidence()}
    args = webhook_args(view, settings, global_cidr)
    if args is None:
        return AdmissionNow.UNKNOWN, {}
    evidence = {"webhook": {**args.evidence(), "problems": list(args.problems)}}
    return (AdmissionNow.REJECTS if args.rejects else AdmissionNow.ALLOWS), evidence
