"""GD301: admission would reject, now, the Services with ``externalIPs`` that Globalnet creates.

Static evidence (always read): the externalip-webhook Deployment's ``--allowed-external-ip-cidrs``
must cover the global CIDR and its ``--allowed-usernames`` must let Globalnet's service account
in, when a ValidatingWebhookConfiguration routes Service creates to it (otherwise it enforces
nothing, as the probe would find). The probe (``--probes``, or GD301 named): a server-side
dry-run create of such a Service as that service account; what admission answers is the
verdict. ``InternalServiceCreationFailed`` conditions are quoted as evidence that it happened;
once admission allows again they are GD302's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import submariner
from globalnet_doctor.facts.admission import (
    CIDRS_FLAG,
    DENY_SERVICE_EXTERNAL_IPS,
    USERNAMES_FLAG,
    ProbeResult,
    Verdict,
    WebhookArgs,
    admission_probe,
    is_admission_denial,
    probe_result,
    webhook_args,
    webhook_reads,
    webhook_remedy,
)
from globalnet_doctor.facts.cidrs import Network
from globalnet_doctor.facts.globalnet import (
    INTERNAL_SERVICES,
    failure_conditions,
    globalnet_user,
    require_globalnet,
)
from globalnet_doctor.facts.submariner import at_least, submariner_version, version_text
from globalnet_doctor.kinds import Probe, Read
from globalnet_doctor.model import Finding, Remediation, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, KubeObject


class AdmissionWebhookUnreachable(Exception):
    """The apiserver could not call an admission webhook: GD301 cannot judge (``error``)."""


class ProbeUnanswered(Exception):
    """The dry-run probe got an answer that says nothing about admission (``error``)."""


def _retrigger_hint(failed: Sequence[dict[str, Any]]) -> str:
    exports = sorted({f"{f['namespace']}/{f['name']}" for f in failed})
    if not exports:
        return ""
    return (
        " Then re-trigger each failed export (Globalnet does not retry): `kubectl -n <ns> "
        "annotate service <svc> gdoctor.io/retrigger=$(date +%s) --overwrite` for "
        + ", ".join(exports)
        + "."
    )


class ExternalIpsAdmissionDenied(Check):
    id = "GD301"
    name = "externalips-admission-denied"
    title = "Admission lets Globalnet create its internal Services with externalIPs"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "admission", "cluster", "probe"})
    explains = frozenset({"GD302", "GD503", "GD603"})
    probes = True
    fix = "GD301"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *webhook_reads(settings),
            Read(kinds.GLOBAL_INGRESS_IPS),
            Read(kinds.SERVICE_EXPORTS),
        )

    @classmethod
    def probe_requests(cls, view: ClusterView, settings: Settings) -> Sequence[Probe]:
        probe = admission_probe(view, settings)
        return (probe,) if probe is not None else ()

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        cr, global_cidr = require_globalnet(ctx.cluster, ctx.settings)
        if not at_least(submariner_version(cr), INTERNAL_SERVICES):
            raise NotApplicable(
                f"Submariner {version_text(cr)}: Globalnet before 0.12 creates no Services "
                "with externalIPs"
            )
        view, settings = ctx.cluster, ctx.settings
        args = webhook_args(view, settings, global_cidr)
        failed = [
            *failure_conditions(view.list(kinds.GLOBAL_INGRESS_IPS), "GlobalIngressIP"),
            *failure_conditions(view.list(kinds.SERVICE_EXPORTS), "ServiceExport"),
        ]
        result = probe_result(view, settings)
        verdict = result.verdict if result is not None else None
        if result is not None and verdict is Verdict.WEBHOOK_UNREACHABLE:
            if args is not None and args.rejects:
                # Its arguments alone say it would reject, whether or not a pod answers now.
                yield self._rejected(ctx, global_cidr, args, failed, result)
                return
            raise AdmissionWebhookUnreachable(
                f"the apiserver could not call an admission webhook for the dry-run probe: "
                f"{result.answer.message}"
            )
        if result is not None and verdict is Verdict.OTHER:
            raise ProbeUnanswered(
                f"the dry-run probe ({result.probe.describe()}) got HTTP {result.answer.status}: "
                f"{result.answer.message}"
            )
        if verdict is Verdict.ADMITTED:
            return  # failed exports left over from before are GD302's now
        if result is not None and verdict is Verdict.DENIED_BY_ADMISSION:
            yield self._rejected(ctx, global_cidr, args, failed, result)
            return
        if result is not None and verdict is Verdict.FORBIDDEN_BY_RBAC:
            yield self._rbac(ctx, failed, result)
        if args is not None and args.rejects:
            yield self._rejected(ctx, global_cidr, args, failed, result)
            return
        if verdict in (None, Verdict.NOT_PERMITTED):
            yield from self._unverified(ctx, args, failed, result)

    # -- findings ------------------------------------------------------------------------

    def _resources(
        self,
        view: ClusterView,
        args: WebhookArgs | None,
        failed: Sequence[tuple[KubeObject, dict[str, Any]]],
    ) -> list[Any]:
        resources = [ref(view.name, kinds.DEPLOYMENTS, args.deployment)] if args else []
        for obj, evidence in failed:
            kind = kinds.GLOBAL_INGRESS_IPS
            if evidence["kind"] == "ServiceExport":
                kind = kinds.SERVICE_EXPORTS
            resources.append(ref(view.name, kind, obj))
        return resources

    def _rejected(
        self,
        ctx: CheckContext,
        global_cidr: Network,
        args: WebhookArgs | None,
        failed: Sequence[tuple[KubeObject, dict[str, Any]]],
        result: ProbeResult | None,
    ) -> Finding:
        view, settings = ctx.cluster, ctx.settings
        user = globalnet_user(settings)
        failures = [evidence for _, evidence in failed]
        evidence: dict[str, Any] = {"globalCIDR": str(global_cidr), "serviceAccount": user}
        if args is not None:
            evidence["webhook"] = {**args.evidence(), "problems": list(args.problems)}
        if result is not None:
            evidence["probe"] = result.evidence()
        if failures:
            evidence["failedExports"] = failures
        if result is not None and result.verdict is Verdict.DENIED_BY_ADMISSION:
            message = f"admission rejects the Services Globalnet creates: {result.answer.message}"
        else:
            assert args is not None
            message = (
                f"the externalIP webhook {args.name} would reject the Services Globalnet "
                f"creates: {'; '.join(args.problems)}"
            )
            if result is not None and result.verdict is Verdict.WEBHOOK_UNREACHABLE:
                message += " (the dry-run probe could not reach the webhook to confirm it)"
        if args is not None and args.rejects:
            remedy = webhook_remedy(args, global_cidr, settings) + _retrigger_hint(failures)
            if result is not None and result.verdict is Verdict.WEBHOOK_UNREACHABLE:
                remedy += (
                    " The apiserver could not call the webhook either: once its arguments are "
                    "fixed, its pods must run and answer, or GD301 stays unjudged."
                )
            return self.finding(
                message,
                resources=self._resources(view, args, failed),
                evidence=evidence,
                remedy=remedy,
            )
        text = result.answer.message if result is not None else ""
        if DENY_SERVICE_EXTERNAL_IPS in text:
            remedy = (
                "Turn off the DenyServiceExternalIPs admission plugin (GKE: `gcloud container "
                "clusters update <cluster> --enable-service-externalips`)."
            )
        elif "admission webhook" in text:
            remedy = (
                f"Let {user} set externalIPs in {global_cidr} in the admission webhook named "
                f"above (externalip-webhook: {CIDRS_FLAG} and {USERNAMES_FLAG}); "
                "--webhook-deployment NAMESPACE/NAME tells gdoctor where its Deployment is."
            )
        else:
            remedy = (
                f"Let {user} create Services with externalIPs in {global_cidr} in the "
                "admission policy that answered the probe."
            )
        return _without_fix(
            self.finding(
                message,
                resources=self._resources(view, args, failed),
                evidence=evidence,
                remedy=remedy + _retrigger_hint(failures),
            )
        )

    def _rbac(
        self,
        ctx: CheckContext,
        failed: Sequence[tuple[KubeObject, dict[str, Any]]],
        result: ProbeResult,
    ) -> Finding:
        user = globalnet_user(ctx.settings)
        evidence: dict[str, Any] = {"serviceAccount": user, "probe": result.evidence()}
        if failed:
            evidence["failedExports"] = [e for _, e in failed]
        return _without_fix(
            self.finding(
                f"RBAC, not admission, refused the dry run: {user} may not create Services "
                f"({result.answer.message})",
                resources=self._resources(ctx.cluster, None, failed),
                evidence=evidence,
                remedy="A different problem from admission: grant the service account the RBAC "
                "Submariner gives it (ClusterRole submariner-globalnet: create, get, list, "
                "watch, update and delete on services and endpoints, bound to "
                f"{user} by ClusterRoleBinding submariner-globalnet); `subctl join` or the "
                "operator re-creates them.",
            )
        )

    def _unverified(
        self,
        ctx: CheckContext,
        args: WebhookArgs | None,
        failed: Sequence[tuple[KubeObject, dict[str, Any]]],
        result: ProbeResult | None,
    ) -> Iterable[Finding]:
        """Denials recorded in conditions that the webhook's (clean) arguments do not explain:
        another webhook, or the DenyServiceExternalIPs plugin, may still reject them."""
        unexplained = [
            (obj, evidence)
            for obj, evidence in failed
            if is_admission_denial(evidence["message"])
            and not (args is not None and "admission webhook" in evidence["message"])
        ]
        if not unexplained:
            return
        evidence: dict[str, Any] = {"failedExports": [e for _, e in unexplained]}
        if args is not None:
            evidence["webhook"] = args.evidence()
        if result is not None:
            evidence["probe"] = result.evidence()
        yield _without_fix(
            self.finding(
                "admission rejected Globalnet's internal Services before; without the probe "
                "gdoctor cannot tell whether it still does",
                resources=self._resources(ctx.cluster, None, unexplained),
                evidence=evidence,
                remedy="Run `gdoctor check GD301` (named, it sends a server-side dry run as "
                f"{globalnet_user(ctx.settings)}); a kubeconfig allowed to impersonate is "
                "needed.",
                severity=Severity.WARNING,
            )
        )


def _without_fix(finding: Finding) -> Finding:
    """GD301's fix edits the externalip-webhook Deployment; other causes have none."""
    if finding.remediation is None:
        return finding
    return dataclasses.replace(finding, remediation=Remediation(finding.remediation.text))
