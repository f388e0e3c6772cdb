"""GD301's dry-run probe against the lab's real externalIP webhook: what it sends, what it
creates (nothing), and how each answer (denied, RBAC, unreachable) is reported."""

from __future__ import annotations

from typing import Any

import pytest
from gdoctor_run import gdoctor, statuses
from lab_fixtures import load
from scenario import SCENARIOS, load_scenario

from globalnet_doctor.adapters.kube import USER_AGENT

pytestmark = pytest.mark.lab

GLOBALNET = "system:serviceaccount:submariner-operator:submariner-globalnet"
FIELD_REPORT = SCENARIOS / "GD301" / "webhook-allows-cluster-b-range-FAIL"
NO_RBAC = SCENARIOS / "GD301" / "globalnet-service-account-without-rbac-FAIL"
HEALTHY = SCENARIOS / "GD301" / "webhook-allows-global-cidr-and-globalnet-PASS"


def result(report: dict[str, Any], check: str, cluster: str) -> dict[str, Any]:
    return next(r for r in report["results"] if (r["check"], r["cluster"]) == (check, cluster))


def services(lab, cluster: str, namespace: str) -> set[str]:
    items = lab.client(cluster).get(f"/api/v1/namespaces/{namespace}/services")["items"]
    return {item["metadata"]["name"] for item in items}


def test_the_probe_reaches_the_webhook_as_globalnet_and_creates_nothing(lab):
    load(lab, load_scenario(FIELD_REPORT))
    before = services(lab, "member1", "submariner-operator")
    # The audit log lasts the whole session: only this test's requests count.
    earlier = len(lab.audit_events("member1", USER_AGENT))
    run = gdoctor("check", "GD301", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 1, run.stderr
    (finding,) = result(run.json(), "GD301", "member1")["findings"]
    assert finding["evidence"]["probe"]["message"] == (
        'admission webhook "validate-externalip.webhook.svc" denied the request: '
        'spec.externalIPs: Invalid value: "242.0.0.1": externalIP specified is not allowed to use'
    )
    assert finding["remediation"]["fix"] == "GD301"
    # The webhook judged a dry run by Globalnet's service account...
    reviews = [r for r in lab.webhook_reviews("member1") if r.username == GLOBALNET]
    assert [(r.operation, r.dry_run, r.allowed) for r in reviews] == [("CREATE", True, False)]
    # ...sent once, as a dry run, impersonating it; and nothing was stored.
    events = lab.audit_events("member1", USER_AGENT)[earlier:]
    creates = [e for e in events if e["verb"] == "create"]
    assert len(creates) == 1
    assert "dryRun=All" in creates[0]["requestURI"]
    assert creates[0]["impersonatedUser"]["username"] == GLOBALNET
    assert services(lab, "member1", "submariner-operator") == before


def test_a_denied_probe_is_not_sent_unless_asked(lab):
    """--select is not naming: without --probes only the webhook's arguments are judged."""
    load(lab, load_scenario(FIELD_REPORT))
    run = gdoctor("check", "--select", "GD301", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 1, run.stderr
    (finding,) = result(run.json(), "GD301", "member1")["findings"]
    assert finding["message"].startswith(
        "the externalIP webhook externalip-validation-system/externalip-validation-webhook "
        "would reject the Services Globalnet creates: --allowed-external-ip-cidrs "
        "(242.1.0.0/16) does not cover the global CIDR 242.0.0.0/16"
    )
    assert "probe" not in finding["evidence"]
    assert lab.webhook_reviews("member1") == []


def test_without_rbac_the_answer_is_rbac_not_admission(lab):
    load(lab, load_scenario(NO_RBAC))
    run = gdoctor("check", "GD301", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    (finding,) = result(run.json(), "GD301", "member1")["findings"]
    assert finding["message"].startswith("RBAC, not admission, refused the dry run")
    assert finding["evidence"]["probe"]["status"] == 403
    assert (
        f'User "{GLOBALNET}" cannot create resource "services"'
        in finding["evidence"]["probe"]["message"]
    )
    assert finding["remediation"]["fix"] is None  # GD301's fix edits the webhook, not RBAC
    # RBAC refused it before admission: the webhook never saw it.
    assert [r for r in lab.webhook_reviews("member1") if r.username == GLOBALNET] == []


def test_an_unreachable_webhook_makes_the_check_an_error(lab):
    scenario = load_scenario(HEALTHY)
    for obj in scenario.objects["member1"]:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == (
            "externalip-validation-webhook"
        ):
            obj["spec"]["replicas"] = 0  # no webhook pod answers
    load(lab, scenario)
    run = gdoctor("check", "GD301", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 3, run.stderr  # incomplete: a check could not judge
    assert statuses(run.json())["GD301"] == {
        "member1": "error",
        "member2": "pass",
        "member3": "pass",
    }
    error = result(run.json(), "GD301", "member1")["error"]
    assert error.startswith("AdmissionWebhookUnreachable: the apiserver could not call")
    assert 'failed calling webhook "validate-externalip.webhook.svc"' in error


def test_an_unreachable_webhook_with_wrong_arguments_is_a_fixable_fail(lab):
    """The arguments alone condemn it: `fix GD301` must have something to fix."""
    scenario = load_scenario(FIELD_REPORT)
    for obj in scenario.objects["member1"]:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == (
            "externalip-validation-webhook"
        ):
            obj["spec"]["replicas"] = 0
    load(lab, scenario)
    run = gdoctor("check", "GD301", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 1, run.stderr
    (finding,) = result(run.json(), "GD301", "member1")["findings"]
    assert finding["message"].endswith(
        "does not cover the global CIDR 242.0.0.0/16 "
        "(the dry-run probe could not reach the webhook to confirm it)"
    )
    assert (
        'failed calling webhook "validate-externalip.webhook.svc"'
        in (finding["evidence"]["probe"]["message"])
    )
    assert finding["remediation"]["fix"] == "GD301"
    plan = gdoctor("fix", "GD301", "--dry-run", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert plan.code == 1, plan.stderr
    (planned,) = plan.json()["fixes"]
    assert planned["cluster"] == "member1"
    assert planned["steps"]


def test_once_admission_allows_the_failed_export_is_gd302s(lab):
    load(lab, load_scenario(SCENARIOS / "GD302" / "admission-fixed-awaiting-retrigger-FAIL"))
    run = gdoctor("check", "GD301", "GD302", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    report = run.json()
    assert result(report, "GD301", "member1")["findings"] == []
    (finding,) = result(report, "GD302", "member1")["findings"]
    assert "admission denied it earlier and nothing re-triggered it since" in finding["message"]
    assert finding["evidence"]["admissionNow"] == "allows"
    assert finding["evidence"]["probe"]["status"] == 201
