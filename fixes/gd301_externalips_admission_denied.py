"""GD301's fix: let Globalnet's internal Services through the externalip-webhook, then
re-trigger the exports that admission made fail.

Globalnet never retries an export whose internal Service admission rejected
(``InternalServiceCreationFailed``, reference/submariner.md §5.2), so repairing the webhook is
half the remedy: each failed export is re-triggered, by annotating its Service (a Service update
requeues its GlobalIngressIP) or, with ``--recreate-exports``, by deleting and recreating its
ServiceExport. The re-trigger is planned only where admission will allow the retry (the run that
repairs the webhook, or admission already allowing it) and never while RBAC also forbids
Globalnet's Service: a retry that fails again is not retried either.

The webhook's pods must roll out with the new arguments before the retry: in the run that
repairs the webhook, each re-trigger is sent only once GD301's dry run as Globalnet is admitted
(``--rollout-timeout``; past it the re-triggers are not sent and the fix is ``awaiting``).
Globalnet must then allocate the re-triggered exports' global IPs, which GD302 judges
(``reconciling``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.admission import (
    CIDRS_FLAG,
    DENY_SERVICE_EXTERNAL_IPS,
    USERNAMES_FLAG,
    Verdict,
    WebhookArgs,
    admission_probe,
    probe_result,
    webhook_args,
)
from globalnet_doctor.facts.cidrs import Network, parse_network
from globalnet_doctor.facts.globalnet import (
    RETRIGGER_ANNOTATION,
    SERVICE_REF_LABEL,
    Export,
    allocated_ip,
    exports,
    failure_conditions,
    globalnet_user,
    service_ingress_ip,
)
from globalnet_doctor.fixspec import (
    AdmissionGate,
    Fix,
    FixContext,
    KubeChange,
    PlanError,
    Safety,
    Step,
    updated,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject

"""Set on a failed export's Service (or its recreated ServiceExport) to the moment the cluster
was read: any Service update requeues the GlobalIngressIP, and the value says when gdoctor
re-triggered it (comparable with the failure condition's lastTransitionTime)."""
WEBHOOK_CONTAINER = "webhook"
"""The container's name in upstream's manifest, used when no container passes any of the
webhook's flags yet."""
_WEBHOOK_FLAGS = (CIDRS_FLAG, USERNAMES_FLAG, "--allowed-groups")
_KEPT_METADATA = ("name", "namespace", "labels", "annotations")
"""What a recreated ServiceExport keeps of the old one's metadata: the server sets the rest."""


def with_flag_value(words: list[Any], flag: str, value: str) -> bool:
    """Adds ``value`` to the last occurrence of a pflag string-slice flag in ``words``
    (``--flag=a,b`` or ``--flag a,b``), every other word kept; False when the flag is absent."""
    for index in range(len(words) - 1, -1, -1):
        word = str(words[index])
        if word.startswith(f"{flag}="):
            words[index] = f"{word},{value}" if word != f"{flag}=" else f"{word}{value}"
            return True
        if word == flag:
            if index + 1 < len(words):
                current = str(words[index + 1])
                words[index + 1] = f"{current},{value}" if current else value
            else:
                words.insert(index + 1, value)
            return True
    return False


def _command_line(container: dict[str, Any]) -> list[list[Any]]:
    """The container's ``command`` and ``args`` lists, in the order the process sees them."""
    return [container[key] for key in ("command", "args") if isinstance(container.get(key), list)]


def _webhook_container(containers: Sequence[dict[str, Any]], deployment: str) -> dict[str, Any]:
    """The container to give a flag it lacks: the one that passes the webhook's other flags,
    else the only one, else the one named like upstream's."""
    for container in containers:
        words = [str(w) for words in _command_line(container) for w in words]
        if any(w == f or w.startswith(f"{f}=") for w in words for f in _WEBHOOK_FLAGS):
            return container
    if len(containers) == 1:
        return containers[0]
    named = [c for c in containers if c.get("name") == WEBHOOK_CONTAINER]
    if len(named) == 1:
        return named[0]
    names = ", ".join(str(c.get("name")) for c in containers)
    raise PlanError(
        f"the webhook Deployment {deployment} passes none of {', '.join(_WEBHOOK_FLAGS)} and "
        f"has several containers ({names}): gdoctor cannot tell which one is the webhook"
    )


def add_flag_value(template_spec: dict[str, Any], flag: str, value: str, deployment: str) -> str:
    """Adds ``value`` to ``flag`` in the pod template (the last place it is passed, as pflag
    appends repeated flags), or passes the flag to the webhook's container when absent.
    Returns what changed, for the step's reason."""
    containers: list[dict[str, Any]] = list(template_spec.get("containers") or [])
    for container in reversed(containers):
        for words in reversed(_command_line(container)):
            if with_flag_value(words, flag, value):
                return f"add {value} to {flag}"
    container = _webhook_container(containers, deployment)
    # At the end of the command line: in ``args`` when the container has them (or neither
    # list), else in ``command``, where its flags then live.
    key = "args" if "args" in container or "command" not in container else "command"
    words = container.setdefault(key, [])
    if not isinstance(words, list):
        raise PlanError(f"the webhook Deployment {deployment} has no list of arguments to extend")
    words.append(f"{flag}={value}")
    return f"pass {flag}={value} (it was not set)"


def _retrigger_value(view: ClusterView) -> str:
    observed = view.observed_at
    moment = observed.astimezone(UTC) if observed.tzinfo else observed.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _service_of_ingress_ip(giip: KubeObject) -> str:
    """The exported Service a GlobalIngressIP belongs to: ``spec.serviceRef`` (ClusterIP), the
    ``submariner.io/serviceRef`` label (headless), else its own name."""
    reference = (objects.spec(giip).get("serviceRef") or {}).get("name")
    return str(reference or objects.labels(giip).get(SERVICE_REF_LABEL) or objects.name(giip))


def failed_exports(view: ClusterView) -> list[Export]:
    """Exports whose GlobalIngressIP or ServiceExport records InternalServiceCreationFailed:
    Globalnet gave up on them and will not retry by itself."""
    failed = {
        (objects.namespace(giip), _service_of_ingress_ip(giip))
        for giip, _ in failure_conditions(view.list(kinds.GLOBAL_INGRESS_IPS), "GlobalIngressIP")
    }
    failed |= {
        (objects.namespace(export), objects.name(export))
        for export, _ in failure_conditions(view.list(kinds.SERVICE_EXPORTS), "ServiceExport")
    }
    return [e for e in exports(view) if (e.namespace, e.name) in failed]


def _awaiting_globalnet(view: ClusterView) -> list[str]:
    """Exports Globalnet must still give a global IP after a re-trigger: those still recording
    the failure, and those gdoctor re-triggered whose GlobalIngressIP has no IP yet."""
    pending = {e.key for e in failed_exports(view)}
    for export in exports(view):
        if export.headless or not export.cluster_ip_type:
            continue  # headless exports have per-backend IPs; GD302 judges those
        marked = any(
            RETRIGGER_ANNOTATION in objects.metadata(obj).get("annotations", {})
            for obj in (export.service, export.export)
        )
        giip = service_ingress_ip(view, export)
        if marked and (giip is None or not allocated_ip(giip)):
            pending.add(export.key)
    return sorted(pending)


def _recreated(export: KubeObject) -> dict[str, Any]:
    """The ServiceExport as it was created: no status (Lighthouse writes it again), no
    server-set metadata, marked as re-triggered."""
    copy = updated(export)
    metadata = {k: v for k, v in copy["metadata"].items() if k in _KEPT_METADATA}
    fresh: dict[str, Any] = {
        "apiVersion": copy["apiVersion"],
        "kind": copy.get("kind", "ServiceExport"),
        "metadata": metadata,
    }
    if "spec" in copy:
        fresh["spec"] = copy["spec"]
    return fresh


class AllowGlobalnetExternalIps(Fix):
    """Disruptive: the Deployment's new arguments reach the webhook only through a rollout of
    its pods (while it rolls, Service writes depend on the remaining pods). Annotating Services
    is safe and undoable; recreating ServiceExports (``--recreate-exports``) is irreversible and
    journaled as such."""

    id = "GD301"
    title = (
        "let Globalnet's Services through the externalip-webhook (global CIDR and service "
        "account), then re-trigger the failed exports"
    )
    safety = Safety.DISRUPTIVE
    order = 40
    """After kube-proxy (10) and Calico (20-30): the root causes of the data path first."""

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        # The exported Services, to annotate them (GD301 reads the exports, not the Services).
        return (Read(kinds.SERVICES),)

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        global_cidr = parse_network(submariner.global_cidr(view, settings) or "")
        if global_cidr is None:
            return []  # GD301 skips without Globalnet
        args = webhook_args(view, settings, global_cidr)
        probe = probe_result(view, settings)
        verdict = probe.verdict if probe is not None else None
        rbac_forbids = verdict is Verdict.FORBIDDEN_BY_RBAC
        steps: list[Step] = []
        if args is not None and args.rejects:
            steps.append(self._webhook_step(view, settings, args, global_cidr, rbac_forbids))
        # Globalnet's retry must find admission allowing it: a second failure is final again.
        admission_will_allow = bool(steps) or verdict is Verdict.ADMITTED
        if admission_will_allow and not rbac_forbids:
            retriggers = self._retrigger_steps(ctx)
            # Only where the probe showed admission itself refusing: where gdoctor may not
            # impersonate (or the probe said something else) no dry run could ever say yes.
            judged = verdict in (Verdict.DENIED_BY_ADMISSION, Verdict.WEBHOOK_UNREACHABLE)
            dry_run = admission_probe(view, settings) if steps and judged else None
            if dry_run is not None and args is not None:
                # The Deployment update only starts the rollout: until the new pods alone
                # answer, an old one may reject the retry, and Globalnet would not retry again.
                namespace, _, name = args.name.partition("/")
                gate = AdmissionGate(dry_run, (namespace, name))
                retriggers = [_once_admitted(step, gate, settings) for step in retriggers]
            steps.extend(retriggers)
        if not steps:
            raise PlanError(self._not_this_fix(ctx))
        return steps

    def awaiting(self, ctx: FixContext) -> str | None:
        view, settings = ctx.cluster, ctx.settings
        global_cidr = parse_network(submariner.global_cidr(view, settings) or "")
        if global_cidr is None:
            return None
        args = webhook_args(view, settings, global_cidr)
        probe = probe_result(view, settings)
        if args is None or args.problems or not args.enforced or probe is None:
            # The arguments are still wrong, the apiserver never calls this webhook, or
            # nothing says more than they do.
            return None
        if probe.verdict is not Verdict.DENIED_BY_ADMISSION:
            return None  # RBAC, or gdoctor may not impersonate: not the webhook's arguments
        if DENY_SERVICE_EXTERNAL_IPS in probe.answer.message:
            return None  # the DenyServiceExternalIPs plugin: no rollout changes that
        namespace, _, name = args.name.partition("/")
        waiting = (
            f"the webhook Deployment {args.name} must roll out pods started with the new "
            f"arguments (kubectl -n {namespace} rollout status deployment/{name}); until then "
            f"the dry run as {globalnet_user(settings)} is denied: {probe.answer.message}. "
            "If the rollout is done and it is still denied, another admission policy rejects it"
        )
        pending = _awaiting_globalnet(view)
        if pending:
            waiting += f"; then Globalnet must allocate the global IP of {', '.join(pending)}"
        return waiting

    def reconciling(self, ctx: FixContext) -> str | None:
        pending = _awaiting_globalnet(ctx.cluster)
        if not pending:
            return None
        return (
            f"admission allows Globalnet's Services now; Globalnet must create the internal "
            f"Service and allocate the global IP of {', '.join(pending)} (GD302 reports them "
            "until it does). One that stays without it after the webhook's new pods answer was "
            "retried too early: re-trigger it again as GD302's remedy says"
        )

    # -- steps ---------------------------------------------------------------------------

    @staticmethod
    def _webhook_step(
        view: ClusterView,
        settings: Settings,
        args: WebhookArgs,
        global_cidr: Network,
        rbac_forbids: bool,
    ) -> Step:
        if args.unparsable:
            raise PlanError(
                f"the webhook Deployment {args.name} passes {', '.join(args.unparsable)} in "
                f"{CIDRS_FLAG}, which is not a CIDR: the webhook cannot start. gdoctor does "
                f"not guess what was meant; correct it by hand, then add {global_cidr}"
            )
        deployment = args.deployment
        after = updated(deployment)
        template_spec = after["spec"]["template"]["spec"]
        changes: list[str] = []
        if not args.covers_global_cidr:
            changes.append(add_flag_value(template_spec, CIDRS_FLAG, str(global_cidr), args.name))
        if not args.lets_globalnet_in:
            user = globalnet_user(settings)
            changes.append(add_flag_value(template_spec, USERNAMES_FLAG, user, args.name))
        why = (
            f"{'; '.join(changes)}, every other argument kept; the Deployment then rolls the "
            "webhook's pods, which start with these arguments"
        )
        if rbac_forbids:
            why += (
                ". The failed exports are not re-triggered: RBAC also forbids Globalnet's "
                "Services (GD301 says how to restore it); re-trigger them afterwards as GD302 says"
            )
        metadata = deployment["metadata"]
        return KubeChange(
            view.name,
            kinds.DEPLOYMENTS,
            metadata.get("namespace"),
            metadata["name"],
            deployment,
            after,
            why,
        )

    def _retrigger_steps(self, ctx: FixContext) -> list[Step]:
        view = ctx.cluster
        marker = _retrigger_value(view)
        steps: list[Step] = []
        for export in failed_exports(view):
            if export.service is None:
                continue  # nothing to re-trigger: Globalnet waits for the Service itself
            if ctx.options.recreate_exports:
                steps.extend(self._recreate(view, export, marker))
            else:
                steps.append(self._annotate(view, export, export.service, marker))
        return steps

    @staticmethod
    def _annotate(view: ClusterView, export: Export, service: KubeObject, marker: str) -> Step:
        after = updated(service)
        annotations = dict(objects.annotations_of(after))
        annotations[RETRIGGER_ANNOTATION] = marker
        after["metadata"]["annotations"] = annotations
        return KubeChange(
            view.name,
            kinds.SERVICES,
            export.namespace,
            export.name,
            service,
            after,
            f"re-trigger the failed export {export.key} (InternalServiceCreationFailed; Globalnet "
            "does not retry): a Service update makes Globalnet requeue its GlobalIngressIP and "
            "create the internal Service again; GD302 reports the export until Globalnet has "
            "allocated its global IP",
        )

    @staticmethod
    def _recreate(view: ClusterView, export: Export, marker: str) -> Iterable[Step]:
        obj = export.export
        metadata = objects.metadata(obj)
        if metadata.get("finalizers") or metadata.get("deletionTimestamp"):
            raise PlanError(
                f"ServiceExport {export.key} in {view.name} has finalizers "
                f"({', '.join(metadata.get('finalizers') or []) or 'being deleted'}): its "
                "deletion waits for their controller, so gdoctor cannot recreate it in the same "
                "run; re-trigger it by annotating its Service instead (without "
                "--recreate-exports)"
            )
        fresh = _recreated(obj)
        fresh["metadata"]["annotations"] = {
            **objects.annotations_of(fresh),
            RETRIGGER_ANNOTATION: marker,
        }
        yield KubeChange(
            view.name,
            kinds.SERVICE_EXPORTS,
            export.namespace,
            export.name,
            obj,
            None,
            f"recreate the failed export {export.key} (--recreate-exports): delete its "
            "ServiceExport so Globalnet and Lighthouse drop its failed state (it had no global "
            "IP, so no other cluster reached it); cannot be undone",
            irreversible=True,
        )
        yield KubeChange(
            view.name,
            kinds.SERVICE_EXPORTS,
            export.namespace,
            export.name,
            None,
            fresh,
            f"create the ServiceExport {export.key} again, so Globalnet allocates its global IP "
            "anew; undo would withdraw the export, so it is not undone. GD302 reports the export "
            "until Globalnet has allocated it",
            irreversible=True,
        )

    @staticmethod
    def _not_this_fix(ctx: FixContext) -> str:
        reasons = [
            f"{finding.message}. {finding.remediation.text if finding.remediation else ''}".strip()
            for finding in ctx.result.findings
        ]
        return (
            f"GD301 fails in {ctx.cluster.name} for a reason this fix does not repair (it edits "
            "the externalip-webhook Deployment's arguments and re-triggers the exports): "
            + " / ".join(reasons)
        )


def _once_admitted(step: Step, gate: AdmissionGate, settings: Settings) -> Step:
    assert isinstance(step, KubeChange)
    by_hand = (
        f"`kubectl -n {step.namespace} annotate service {step.name} "
        f"{RETRIGGER_ANNOTATION}=$(date +%s) --overwrite`"
    )
    return dataclasses.replace(
        step,
        once_admitted=gate,
        why=f"{step.why}. Sent only once the webhook's rollout is complete and a dry run as "
        f"{globalnet_user(settings)} is admitted, waiting at most --rollout-timeout; by hand: "
        f"{by_hand}",
    )
