"""GD301's fix over hand-built views: how it edits the webhook's arguments, what it refuses, and
what it says is still awaited (paths the lab cannot take: no rollout lag, no second policy)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from globalnet_doctor_checks.gd301_externalips_admission_denied import ExternalIpsAdmissionDenied
from globalnet_doctor_fixes.gd301_externalips_admission_denied import (
    RETRIGGER_ANNOTATION,
    AllowGlobalnetExternalIps,
    add_flag_value,
    with_flag_value,
)
from views_from_objects import view_answering, with_lab_webhook

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.admission import admission_probe
from globalnet_doctor.fixspec import FixContext, FixOptions, PlanError
from globalnet_doctor.model import CheckResult, Status
from globalnet_doctor.spec import CheckContext
from globalnet_doctor.view import ClusterView, ProbeAnswer

SETTINGS = Settings()
GLOBALNET = "system:serviceaccount:submariner-operator:submariner-globalnet"
CIDRS = "--allowed-external-ip-cidrs"
USERNAMES = "--allowed-usernames"
WEBHOOK_DENIAL = (
    'admission webhook "validate-externalip.webhook.svc" denied the request: spec.externalIPs: '
    'Invalid value: "242.0.0.1": externalIP specified is not allowed to use'
)
PLUGIN_DENIAL = (
    'services "gdoctor-admission-probe-x" is forbidden: Use of external IPs is denied by '
    "admission control"
)
RBAC_REFUSAL = (
    f'services is forbidden: User "{GLOBALNET}" cannot create resource "services" in API group '
    '"" in the namespace "submariner-operator"'
)


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **body: Any):
    metadata: dict[str, Any] = {"name": name, **body.pop("metadata", {})}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def submariner() -> dict[str, Any]:
    spec = {"clusterID": "cluster-a", "version": "0.14.6", "globalCIDR": "242.0.0.0/16"}
    return obj(
        "submariner.io/v1alpha1", "Submariner", "submariner", "submariner-operator", spec=spec
    )


def webhook(*args: str, containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found = containers or [{"name": "webhook", "command": ["/webhook"], "args": list(args)}]
    return obj(
        "apps/v1",
        "Deployment",
        "externalip-validation-webhook",
        "externalip-validation-system",
        spec={"template": {"spec": {"containers": found}}},
    )


def failed_export(annotated: bool = False, state: str = "failed") -> list[dict[str, Any]]:
    """A ClusterIP export whose GlobalIngressIP is ``failed`` (admission denied it), ``pending``
    (requeued, nothing recorded yet) or ``allocated``."""
    statuses = {
        "failed": {
            "allocatedIP": "",
            "conditions": [
                {
                    "type": "Allocated",
                    "status": "False",
                    "reason": "InternalServiceCreationFailed",
                    "message": WEBHOOK_DENIAL,
                }
            ],
        },
        "pending": {},
        "allocated": {
            "allocatedIP": "242.0.255.253",
            "conditions": [{"type": "Allocated", "status": "True", "reason": "Success"}],
        },
    }
    annotations = {RETRIGGER_ANNOTATION: "2024-05-01T10:00:00Z"} if annotated else {}
    return [
        obj(
            "v1",
            "Service",
            "dns",
            "demo",
            metadata={"annotations": annotations},
            spec={"type": "ClusterIP", "selector": {"app": "dns"}, "ports": [{"port": 53}]},
        ),
        obj("multicluster.x-k8s.io/v1alpha1", "ServiceExport", "dns", "demo"),
        obj(
            "submariner.io/v1",
            "GlobalIngressIP",
            "dns",
            "demo",
            spec={"target": "ClusterIPService", "serviceRef": {"name": "dns"}},
            status=statuses[state],
        ),
    ]


def view_of(objects: list[dict[str, Any]], probe: ProbeAnswer | None = None) -> ClusterView:
    """A view answering every read of GD301 and its fix from ``objects``, with the probe's
    answer when given."""
    reads = [
        *ExternalIpsAdmissionDenied.reads(SETTINGS),
        *AllowGlobalnetExternalIps.reads(SETTINGS),
    ]
    view = view_answering(
        "member1",
        reads,
        with_lab_webhook("member1", objects),
        observed_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
    )
    if probe is not None:
        request = admission_probe(view, SETTINGS)
        assert request is not None
        view.probe_answers[request] = probe
    return view


def context(view: ClusterView, recreate_exports: bool = False) -> FixContext:
    check = ExternalIpsAdmissionDenied
    findings = tuple(check().run(CheckContext(view, [view], SETTINGS)))
    status = Status.FAIL if findings else Status.PASS
    result = CheckResult(check.id, check.name, view.name, status, check.severity, 0, findings)
    options = FixOptions(recreate_exports=recreate_exports)
    return FixContext(view, [view], result, SETTINGS, options)


def plan(view: ClusterView, recreate_exports: bool = False) -> list[Any]:
    return AllowGlobalnetExternalIps().plan(context(view, recreate_exports))


def args_after(step: Any) -> list[str]:
    (container,) = step.after["spec"]["template"]["spec"]["containers"]
    return list(container.get("args") or [])


# -- editing the arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([f"{CIDRS}=242.1.0.0/16"], [f"{CIDRS}=242.1.0.0/16,242.0.0.0/16"]),
        ([CIDRS, "242.1.0.0/16", "--x"], [CIDRS, "242.1.0.0/16,242.0.0.0/16", "--x"]),
        # Repeated flags add up (pflag): the value joins the last one, the first stays as it was.
        (
            [f"{CIDRS}=10.0.0.0/8", CIDRS, "242.1.0.0/16"],
            [f"{CIDRS}=10.0.0.0/8", CIDRS, "242.1.0.0/16,242.0.0.0/16"],
        ),
        ([f"{CIDRS}="], [f"{CIDRS}=242.0.0.0/16"]),
        ([CIDRS], [CIDRS, "242.0.0.0/16"]),
    ],
)
def test_the_value_joins_the_flag_in_either_form_and_nothing_else_changes(words, expected):
    assert with_flag_value(words, CIDRS, "242.0.0.0/16") is True
    assert words == expected


def test_an_absent_flag_is_not_invented_by_with_flag_value():
    words = ["--webhook-port=9443", f"{CIDRS}-extra=1"]
    assert with_flag_value(words, CIDRS, "242.0.0.0/16") is False
    assert words == ["--webhook-port=9443", f"{CIDRS}-extra=1"]


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        (
            {"name": "webhook", "command": ["/webhook"], "args": ["--webhook-port=9443"]},
            {"command": ["/webhook"], "args": ["--webhook-port=9443", f"{USERNAMES}={GLOBALNET}"]},
        ),
        # The flags live in `command`: the new one goes there too.
        (
            {"name": "webhook", "command": ["/webhook", f"{CIDRS}=242.0.0.0/16"]},
            {"command": ["/webhook", f"{CIDRS}=242.0.0.0/16", f"{USERNAMES}={GLOBALNET}"]},
        ),
        ({"name": "webhook"}, {"args": [f"{USERNAMES}={GLOBALNET}"]}),
    ],
)
def test_an_absent_flag_is_passed_at_the_end_of_the_command_line(container, expected):
    template = {"containers": [container]}
    assert add_flag_value(template, USERNAMES, GLOBALNET, "ns/name") == (
        f"pass {USERNAMES}={GLOBALNET} (it was not set)"
    )
    assert {k: v for k, v in container.items() if k != "name"} == expected


def test_an_absent_flag_goes_to_the_container_that_passes_the_webhooks_other_flags():
    sidecar = {"name": "proxy", "args": ["--upstream=http://127.0.0.1:9443"]}
    webhook_container = {"name": "server", "args": [f"{CIDRS}=242.0.0.0/16"]}
    add_flag_value({"containers": [sidecar, webhook_container]}, USERNAMES, GLOBALNET, "ns/name")
    assert sidecar["args"] == ["--upstream=http://127.0.0.1:9443"]
    assert webhook_container["args"][-1] == f"{USERNAMES}={GLOBALNET}"


def test_which_container_is_the_webhook_is_never_guessed():
    containers = [{"name": "a", "args": []}, {"name": "b", "args": []}]
    with pytest.raises(PlanError, match="cannot tell which one is the webhook"):
        add_flag_value({"containers": containers}, USERNAMES, GLOBALNET, "ns/name")


# -- plans -----------------------------------------------------------------------------------


def test_both_values_added_every_other_argument_kept_and_the_export_retriggered():
    view = view_of(
        [
            submariner(),
            webhook("--webhook-port=9443", CIDRS, "242.1.0.0/16", f"{USERNAMES}=system:admin"),
            *failed_export(),
        ],
        ProbeAnswer(403, WEBHOOK_DENIAL, "Forbidden"),
    )
    deployment, service = plan(view)
    assert args_after(deployment) == [
        "--webhook-port=9443",
        CIDRS,
        "242.1.0.0/16,242.0.0.0/16",
        f"{USERNAMES}=system:admin,{GLOBALNET}",
    ]
    assert deployment.after["spec"]["template"]["spec"]["containers"][0]["command"] == ["/webhook"]
    assert (service.kind.kind, service.namespace, service.name) == ("Service", "demo", "dns")
    annotations = service.after["metadata"]["annotations"]
    assert annotations == {RETRIGGER_ANNOTATION: "2024-05-01T10:00:00Z"}  # when it was read


NOT_PERMITTED = (
    'users "system:serviceaccount:submariner-operator:submariner-globalnet" is forbidden: User '
    '"operator" cannot impersonate resource "users" in API group "" at the cluster scope'
)


@pytest.mark.parametrize(
    ("probe", "gated"),
    [
        (ProbeAnswer(403, WEBHOOK_DENIAL, "Forbidden"), True),
        (ProbeAnswer(500, 'failed calling webhook "validate-externalip.webhook.svc"', ""), True),
        # gdoctor may not impersonate Globalnet: no dry run could ever say yes, so no wait.
        (ProbeAnswer(403, NOT_PERMITTED, "Forbidden"), False),
        (None, False),
    ],
    ids=["denied", "webhook-unreachable", "may-not-impersonate", "no-probe"],
)
def test_the_retrigger_waits_for_admission_only_where_the_probe_can_say_yes(probe, gated):
    view = view_of([submariner(), webhook(f"{CIDRS}=242.1.0.0/16"), *failed_export()], probe)
    deployment, service = plan(view)
    assert deployment.once_admitted is None
    if not gated:
        assert service.once_admitted is None
        return
    gate = service.once_admitted
    assert gate.deployment == ("externalip-validation-system", "externalip-validation-webhook")
    assert gate.probe == admission_probe(view, SETTINGS)
    assert "Sent only once the webhook's rollout is complete" in service.why


def test_recreating_instead_deletes_and_creates_the_export_both_irreversible():
    view = view_of([submariner(), webhook(f"{CIDRS}=242.1.0.0/16"), *failed_export()])
    steps = plan(view, recreate_exports=True)
    assert [(s.action, s.kind.kind, s.irreversible) for s in steps] == [
        ("update", "Deployment", False),
        ("delete", "ServiceExport", True),
        ("create", "ServiceExport", True),
    ]
    created = steps[2].after
    assert set(created["metadata"]) == {"name", "namespace", "annotations"}
    assert "status" not in created


def test_an_export_a_controller_holds_is_not_recreated():
    objects = [submariner(), webhook(f"{CIDRS}=242.1.0.0/16"), *failed_export()]
    objects[3]["metadata"]["finalizers"] = ["lighthouse.submariner.io/service-export"]
    with pytest.raises(PlanError, match="has finalizers"):
        plan(view_of(objects), recreate_exports=True)


def test_rbac_alone_is_not_this_fixs():
    view = view_of(
        [submariner(), webhook(f"{CIDRS}=242.0.0.0/16", f"{USERNAMES}={GLOBALNET}")],
        ProbeAnswer(403, RBAC_REFUSAL, "Forbidden"),
    )
    with pytest.raises(PlanError, match="RBAC, not admission") as refused:
        plan(view)
    assert "ClusterRole submariner-globalnet" in str(refused.value)


def test_with_rbac_forbidding_too_the_webhook_is_fixed_but_nothing_retriggered():
    view = view_of(
        [submariner(), webhook(f"{CIDRS}=242.1.0.0/16"), *failed_export()],
        ProbeAnswer(403, RBAC_REFUSAL, "Forbidden"),
    )
    (step,) = plan(view)
    assert step.kind.kind == "Deployment"
    assert "not re-triggered: RBAC also forbids" in step.why


def test_another_admission_policy_is_not_this_fixs():
    view = view_of([submariner(), *failed_export()], ProbeAnswer(403, PLUGIN_DENIAL))
    with pytest.raises(PlanError, match="DenyServiceExternalIPs"):
        plan(view)


def test_an_unparsable_cidr_is_never_guessed():
    view = view_of([submariner(), webhook(f"{CIDRS}=242.1.0.0")])
    with pytest.raises(PlanError, match="not a CIDR: the webhook cannot start"):
        plan(view)


# -- after applying --------------------------------------------------------------------------


def test_right_arguments_still_denied_await_the_webhooks_rollout():
    view = view_of(
        [submariner(), webhook(f"{CIDRS}=242.0.0.0/16", f"{USERNAMES}={GLOBALNET}")],
        ProbeAnswer(403, WEBHOOK_DENIAL, "Forbidden"),
    )
    waiting = AllowGlobalnetExternalIps().awaiting(context(view))
    assert waiting is not None
    assert "must roll out pods started with the new arguments" in waiting
    assert "rollout status deployment/externalip-validation-webhook" in waiting
    assert WEBHOOK_DENIAL in waiting


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        ((f"{CIDRS}=242.1.0.0/16",), ProbeAnswer(403, WEBHOOK_DENIAL)),  # still wrong
        ((f"{CIDRS}=242.0.0.0/16",), ProbeAnswer(403, PLUGIN_DENIAL)),  # no rollout cures it
        ((f"{CIDRS}=242.0.0.0/16",), ProbeAnswer(403, RBAC_REFUSAL)),
    ],
)
def test_nothing_is_awaited_when_the_configuration_does_not_explain_it(args, answer):
    view = view_of([submariner(), webhook(*args)], answer)
    assert AllowGlobalnetExternalIps().awaiting(context(view)) is None


@pytest.mark.parametrize(
    ("annotated", "state", "awaited"),
    [
        (False, "failed", True),
        (True, "failed", True),
        (True, "pending", True),  # re-triggered, Globalnet has not written anything yet
        (False, "pending", False),  # not gdoctor's doing: GD302's to judge
        (True, "allocated", False),
    ],
)
def test_once_admission_allows_globalnet_is_awaited_until_it_allocated_the_ip(
    annotated, state, awaited
):
    view = view_of([submariner(), *failed_export(annotated, state)], ProbeAnswer(201))
    waiting = AllowGlobalnetExternalIps().reconciling(context(view))
    assert (waiting is not None) is awaited
    if waiting is not None:
        assert "Globalnet must create the internal Service and allocate the global IP of" in (
            waiting
        )
        assert "demo/dns" in waiting
