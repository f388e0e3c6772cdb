"""`gdoctor fix GD301` against the lab's real externalIP webhook: the Deployment's arguments,
the re-trigger of the failed export, what admission answers before and after, and undo."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from gdoctor_run import assert_golden, gdoctor, run_id_of, statuses, without_server_fields
from lab import Lab
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

from globalnet_doctor.adapters.kube import USER_AGENT
from globalnet_doctor.journal import journal_root

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

PLAN_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schemas" / "fix-plan.schema.json").read_text()
)

GLOBALNET = "system:serviceaccount:submariner-operator:submariner-globalnet"
FIELD_REPORT = SCENARIOS / "GD301" / "webhook-allows-cluster-b-range-FAIL"
USERNAME_MISSING = SCENARIOS / "GD301" / "globalnet-not-in-allowed-usernames-FAIL"
NO_RBAC = SCENARIOS / "GD301" / "globalnet-service-account-without-rbac-FAIL"

DEPLOYMENT = (
    "/apis/apps/v1/namespaces/externalip-validation-system/deployments/"
    "externalip-validation-webhook"
)
SERVICE = "/api/v1/namespaces/submariner-operator/services/external-dns-cluster-a"
EXPORT = (
    "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/submariner-operator/serviceexports/"
    "external-dns-cluster-a"
)
INGRESS_IP = (
    "/apis/submariner.io/v1/namespaces/submariner-operator/globalingressips/external-dns-cluster-a"
)
INTERNAL_SERVICE = "submariner-ouajjylqjq3zjzzktlytsczndaheiwct"
RETRIGGER = "gdoctor.io/retrigger"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def get(lab: Lab, path: str) -> dict[str, Any]:
    return lab.client("member1").get(path)


def webhook_args(lab: Lab) -> list[str]:
    (container,) = get(lab, DEPLOYMENT)["spec"]["template"]["spec"]["containers"]
    return container["args"]


def plan_for_golden(run) -> str:
    """The plan without what changes from run to run: the run id and the re-trigger moment."""
    document = run.json()
    document["runId"] = None
    return TIMESTAMP.sub("<observedAt>", json.dumps(document, indent=2)) + "\n"


def steps_of(run) -> list[tuple[str, str, bool]]:
    (fix,) = run.json()["fixes"]
    return [(s["action"], s["kind"], s["irreversible"]) for s in fix["steps"]]


def gd302_finding(lab: Lab) -> dict[str, Any]:
    run = gdoctor("check", "GD302", "-o", "json", *kubeconfig_args(lab))
    (result,) = [r for r in run.json()["results"] if r["cluster"] == "member1"]
    assert result["status"] == "fail", result
    (finding,) = result["findings"]
    return finding


# -- preview -------------------------------------------------------------------------------


def test_dry_run_sends_every_change_with_dry_run_all_and_changes_nothing(lab):
    load(lab, load_scenario(FIELD_REPORT))
    deployment, service = get(lab, DEPLOYMENT), get(lab, SERVICE)
    earlier = len(lab.audit_events("member1", USER_AGENT))  # the log lasts the whole session
    run = gdoctor("fix", "GD301", "--dry-run", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    plan = run.json()
    jsonschema.validate(plan, PLAN_SCHEMA)
    (fix,) = plan["fixes"]
    assert (fix["cluster"], fix["safety"], fix["outcome"]) == (
        "member1",
        "disruptive",
        "changes pending",
    )
    assert [(s["action"], s["kind"], s["irreversible"], s["answer"]) for s in fix["steps"]] == [
        ("update", "Deployment", False, "ok"),
        ("update", "Service", False, "ok"),
    ]
    assert "GD302 reports the export until Globalnet has allocated" in fix["steps"][1]["why"]
    events = lab.audit_events("member1", USER_AGENT)[earlier:]
    updates = [e for e in events if e["verb"] == "update"]
    assert len(updates) == 2
    assert all("dryRun=All" in e["requestURI"] for e in updates)
    assert (
        get(lab, DEPLOYMENT)["metadata"]["resourceVersion"]
        == (deployment["metadata"]["resourceVersion"])
    )
    assert (
        get(lab, SERVICE)["metadata"]["resourceVersion"] == (service["metadata"]["resourceVersion"])
    )
    assert_golden("fix-plan-gd301-webhook-and-retrigger.json", plan_for_golden(run))


# -- apply, verify, again, undo ------------------------------------------------------------


def test_the_fix_lets_globalnet_in_retriggers_the_export_and_awaits_globalnet(lab):
    load(lab, load_scenario(FIELD_REPORT))
    original_deployment, original_service = get(lab, DEPLOYMENT), get(lab, SERVICE)
    original_args = webhook_args(lab)
    run = gdoctor("fix", "GD301", "--yes", *kubeconfig_args(lab))
    # Admission allows it now; Globalnet (absent from the lab) must still allocate the IP.
    assert run.code == 4, run.stdout + run.stderr
    assert (
        "GD301 externalips-admission-denied on member1 [disruptive]: awaiting reconciliation "
        "(admission allows Globalnet's Services now; Globalnet must create the internal Service "
        "and allocate the global IP of submariner-operator/external-dns-cluster-a (GD302 "
        "reports them until it does)"
    ) in run.stdout

    # The CIDR is added to its flag; every other argument, and the command, kept as they were.
    assert webhook_args(lab) == [
        "--webhook-port=9443",
        "--allowed-external-ip-cidrs=242.1.0.0/16,242.0.0.0/16",
        original_args[2],
    ]
    assert GLOBALNET in original_args[2]
    (container,) = get(lab, DEPLOYMENT)["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/webhook"]
    annotations = get(lab, SERVICE)["metadata"]["annotations"]
    assert TIMESTAMP.fullmatch(annotations[RETRIGGER])

    # The webhook reads the new arguments: the dry run as Globalnet is admitted now.
    for args in (["GD301"], ["--select", "GD301", "--probes"]):
        check = gdoctor("check", *args, "-o", "json", *kubeconfig_args(lab))
        assert check.code == 0, check.stdout
        assert statuses(check.json())["GD301"] == dict.fromkeys(lab.clusters, "pass")
    latest = [r for r in lab.webhook_reviews("member1") if r.username == GLOBALNET][-1]
    assert (latest.dry_run, latest.allowed) == (True, True)

    # Nothing re-allocates in the lab: GD302 still reports the export, now re-triggerable.
    finding = gd302_finding(lab)
    assert finding["evidence"]["admissionNow"] == "allows"
    assert "re-trigger" in finding["message"]

    again = gdoctor("fix", "GD301", "--yes", *kubeconfig_args(lab))
    assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    assert undo.stdout.splitlines() == [
        "undone: update Service submariner-operator/external-dns-cluster-a in member1",
        "undone: update Deployment externalip-validation-system/externalip-validation-webhook "
        "in member1",
    ]
    assert without_server_fields(get(lab, DEPLOYMENT)) == without_server_fields(original_deployment)
    assert without_server_fields(get(lab, SERVICE)) == without_server_fields(original_service)
    check = gdoctor("check", "GD301", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD301"]["member1"] == "fail"


def _received(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))


def test_the_retrigger_waits_until_the_webhooks_new_pods_admit_globalnet(lab):
    """Annotated while the old pods still answer, the retry would be rejected again, and
    Globalnet never retries twice: the re-trigger waits for the rollout."""
    load(lab, load_scenario(FIELD_REPORT))
    lab.set_webhook_rollout_seconds(4)
    earlier = len(lab.audit_events("member1", USER_AGENT))
    run = gdoctor("fix", "GD301", "--yes", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 4, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    assert [(s["kind"], s["answer"]) for s in fix["steps"]] == [
        ("Deployment", "ok"),
        ("Service", "ok"),
    ]
    # While the previous pods answered, the dry run as Globalnet was denied; then admitted.
    verdicts = [r.allowed for r in lab.webhook_reviews("member1") if r.username == GLOBALNET]
    assert verdicts[0] is False
    assert verdicts[-1] is True
    assert False in verdicts[1:-1]  # at least one denial after the Deployment was updated
    events = lab.audit_events("member1", USER_AGENT)[earlier:]
    (deployment_update,) = [
        e for e in events if e["verb"] == "update" and e["objectRef"]["resource"] == "deployments"
    ]
    (service_update,) = [
        e for e in events if e["verb"] == "update" and e["objectRef"]["resource"] == "services"
    ]
    assert (_received(service_update) - _received(deployment_update)).total_seconds() >= 3
    assert RETRIGGER in get(lab, SERVICE)["metadata"]["annotations"]


def test_past_the_rollout_timeout_the_retrigger_is_not_sent_and_the_fix_awaits(lab):
    load(lab, load_scenario(FIELD_REPORT))
    lab.set_webhook_rollout_seconds(600)
    args = ("fix", "GD301", "--yes", "--rollout-timeout", "2s", *kubeconfig_args(lab))
    run = gdoctor(*args, "-o", "json")
    assert run.code == 4, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    assert fix["outcome"] == "awaiting reconciliation"
    assert fix["detail"].startswith(
        f"admission in member1 still refuses a dry run as {GLOBALNET} after 2 s "
        '(admission webhook "validate-externalip.webhook.svc" denied the request'
    )
    assert [(s["kind"], s["answer"]) for s in fix["steps"]] == [
        ("Deployment", "ok"),
        ("Service", "not sent: admission does not allow it yet"),
    ]
    assert "by hand: `kubectl -n submariner-operator annotate service" in fix["steps"][1]["why"]
    assert "242.0.0.0/16" in webhook_args(lab)[1]  # the webhook's fix is applied and stays
    assert RETRIGGER not in (get(lab, SERVICE)["metadata"].get("annotations") or {})


def test_globalnet_is_added_to_the_usernames_and_with_no_failed_export_it_is_fixed(lab):
    load(lab, load_scenario(USERNAME_MISSING))
    run = gdoctor("fix", "GD301", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    assert "GD301 externalips-admission-denied on member1 [disruptive]: fixed" in run.stdout
    assert webhook_args(lab) == [
        "--webhook-port=9443",
        "--allowed-external-ip-cidrs=242.0.0.0/16",
        f"--allowed-usernames=system:admin,{GLOBALNET}",
    ]


@pytest.fixture
def submariner_plays_its_part(lab: Lab) -> Iterator[threading.Event]:
    """Once gdoctor has re-triggered the export, does what Globalnet and Lighthouse would: the
    internal Service, the allocated IP, a valid ServiceExport. Set the event once the scenario
    is loaded."""
    start = threading.Event()
    done = threading.Event()

    def reconcile() -> None:
        client = lab.client("member1")
        if not start.wait(timeout=60) or done.is_set():
            return
        deadline = time.monotonic() + 60
        while RETRIGGER not in (client.get(SERVICE)["metadata"].get("annotations") or {}):
            if done.is_set() or time.monotonic() > deadline:
                return
            time.sleep(0.1)
        time.sleep(2.5)  # so that gdoctor's first verification finds it still pending
        lab.apply("member1", [internal_service("242.0.255.253")])
        ingress_ip = client.get(INGRESS_IP)
        ingress_ip["status"] = {
            "allocatedIP": "242.0.255.253",
            "conditions": [
                condition("Allocated", "True", "Success", "Allocated global IP"),
            ],
        }
        client.put(INGRESS_IP + "/status", ingress_ip)
        export = client.get(EXPORT)
        export["status"] = {"conditions": [condition("Valid", "True", "", "")]}
        client.put(EXPORT + "/status", export)

    worker = threading.Thread(target=reconcile, name="plays-submariner", daemon=True)
    worker.start()
    try:
        yield start
    finally:
        done.set()
        start.set()  # a test that failed before starting it: let the thread end now
        worker.join(timeout=70)


def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def internal_service(ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": INTERNAL_SERVICE,
            "namespace": "submariner-operator",
            "labels": {"submariner.io/exportedServiceRef": "external-dns-cluster-a"},
        },
        "spec": {"ports": [{"port": 53, "protocol": "UDP"}], "externalIPs": [ip]},
    }


def test_wait_reports_fixed_once_globalnet_has_allocated_the_global_ip(
    lab, submariner_plays_its_part, tmp_path
):
    load(lab, load_scenario(FIELD_REPORT))
    submariner_plays_its_part.set()
    log_file = tmp_path / "fix.log"
    run = gdoctor(
        "fix", "GD301", "--yes", "--wait", "45s", "--log-file", str(log_file),
        *kubeconfig_args(lab),
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    assert "GD301 externalips-admission-denied on member1 [disruptive]: fixed" in run.stdout
    # It was awaiting Globalnet before (progress goes to the log, and to a terminal only).
    assert "progress: waiting for member1" in log_file.read_text()
    check = gdoctor("check", "GD301", "GD302", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD302"]["member1"] == "pass"


# -- recreating the exports ----------------------------------------------------------------


def test_recreate_exports_deletes_and_recreates_the_service_export_irreversibly(lab, journal_home):
    load(lab, load_scenario(FIELD_REPORT))
    original = get(lab, EXPORT)

    preview = gdoctor(
        "fix", "GD301", "--recreate-exports", "--dry-run", "-o", "json", *kubeconfig_args(lab)
    )
    assert preview.code == 1, preview.stdout
    (fix,) = preview.json()["fixes"]
    assert [(s["action"], s["kind"], s["irreversible"], s["answer"]) for s in fix["steps"]] == [
        ("update", "Deployment", False, "ok"),
        ("delete", "ServiceExport", True, "ok"),
        # A dry-run delete leaves the export there: creating it again cannot be tried yet.
        ("create", "ServiceExport", True, "not sent: it exists until the delete above is applied"),
    ]
    assert get(lab, EXPORT)["metadata"]["uid"] == original["metadata"]["uid"]

    run = gdoctor(
        "fix", "GD301", "--recreate-exports", "--yes", "-o", "json", *kubeconfig_args(lab)
    )
    assert run.code == 4, run.stdout + run.stderr
    assert steps_of(run) == [
        ("update", "Deployment", False),
        ("delete", "ServiceExport", True),
        ("create", "ServiceExport", True),
    ]
    recreated = get(lab, EXPORT)
    assert recreated["metadata"]["uid"] != original["metadata"]["uid"]
    assert "status" not in recreated or not recreated["status"].get("conditions")
    assert TIMESTAMP.fullmatch(recreated["metadata"]["annotations"][RETRIGGER])
    assert RETRIGGER not in (get(lab, SERVICE)["metadata"].get("annotations") or {})

    run_id = run.json()["runId"]
    journal = json.loads((journal_root() / run_id / "journal.json").read_text())
    assert [(e["action"], e["kind"]["kind"], e["irreversible"]) for e in journal["entries"]] == [
        ("update", "Deployment", False),
        ("delete", "ServiceExport", True),
        ("create", "ServiceExport", True),
    ]
    undo = gdoctor("undo", run_id)
    assert undo.code == 0, undo.stdout
    lines = undo.stdout.splitlines()
    assert lines[0].startswith(
        "cannot undo (irreversible): create ServiceExport submariner-operator/"
        "external-dns-cluster-a in member1"
    )
    assert lines[1].startswith(
        "cannot undo (irreversible): delete ServiceExport submariner-operator/"
        "external-dns-cluster-a in member1"
    )
    assert lines[2] == (
        "undone: update Deployment externalip-validation-system/externalip-validation-webhook "
        "in member1"
    )
    assert webhook_args(lab)[1] == "--allowed-external-ip-cidrs=242.1.0.0/16"
    assert get(lab, EXPORT)["metadata"]["uid"] == recreated["metadata"]["uid"]


# -- what this fix does not repair, and changes the servers refuse -------------------------


def test_rbac_refusing_globalnet_is_not_this_fixs_and_nothing_changes(lab):
    load(lab, load_scenario(NO_RBAC))
    before = get(lab, DEPLOYMENT)
    run = gdoctor("fix", "GD301", "--yes", *kubeconfig_args(lab))
    assert run.code == 2, run.stdout + run.stderr
    assert "GD301 externalips-admission-denied on member1 [disruptive]: not planned" in run.stdout
    assert "for a reason this fix does not repair" in run.stdout
    assert "RBAC, not admission, refused the dry run" in run.stdout
    assert "ClusterRole submariner-globalnet" in run.stdout
    assert (
        get(lab, DEPLOYMENT)["metadata"]["resourceVersion"]
        == (before["metadata"]["resourceVersion"])
    )


@pytest.fixture
def service_the_webhook_judges(lab: Lab) -> Iterator[None]:
    """The failed export's Service with an external IP the webhook does not allow, as a Service
    made before the webhook was installed: from then on, nobody outside its allowed users may
    update it. (The loader's objects are exempt from the webhook, so the Service leaves that
    exemption while the webhook briefly lets anyone set that IP.)"""
    load(lab, load_scenario(FIELD_REPORT))
    client = lab.client("member1")
    deployment = client.get(DEPLOYMENT)
    opened = json.loads(json.dumps(deployment))
    opened["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "--allowed-external-ip-cidrs=203.0.113.0/24"
    ]
    client.put(DEPLOYMENT, opened)
    client.merge_patch(
        SERVICE,
        {
            "metadata": {"labels": {"gdoctor-lab/loaded": None}},
            "spec": {"externalIPs": ["203.0.113.10"]},
        },
    )
    restored = client.get(DEPLOYMENT)
    restored["spec"] = deployment["spec"]
    restored = client.put(DEPLOYMENT, restored)
    # Its rollout completes before the test, as the Deployment controller would report it.
    restored["status"]["observedGeneration"] = restored["metadata"]["generation"]
    client.put(f"{DEPLOYMENT}/status", restored)
    try:
        yield
    finally:
        client.delete(SERVICE)  # no longer the loader's: reset() would leave it behind


def test_admission_denying_a_step_is_reported_by_the_dry_run_and_nothing_changes(
    lab, service_the_webhook_judges
):
    before = get(lab, DEPLOYMENT)
    denial = (
        'admission webhook "validate-externalip.webhook.svc" denied the request: '
        "user admin is not alllowed to specify externalIP"
    )
    run = gdoctor("fix", "GD301", "--dry-run", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    answers = [(s["kind"], s["answer"]) for s in fix["steps"]]
    assert answers[0] == ("Deployment", "ok")
    assert answers[1][0] == "Service"
    assert answers[1][1].startswith("HTTP 403: ")
    assert denial in answers[1][1]
    assert (
        get(lab, DEPLOYMENT)["metadata"]["resourceVersion"]
        == (before["metadata"]["resourceVersion"])
    )

    # Applied anyway: the webhook's change took effect before the re-trigger was sent (it
    # waited for admission), so it is right on its own and stays; the denied re-trigger fails.
    applied = gdoctor("fix", "GD301", "--yes", *kubeconfig_args(lab))
    assert applied.code == 1, applied.stdout
    assert "still failing" in applied.stdout
    assert denial in applied.stdout
    assert "the 1 step(s) before the wait for admission stay applied" in applied.stdout
    assert "242.0.0.0/16" in webhook_args(lab)[1]
    assert webhook_args(lab)[1] != before["spec"]["template"]["spec"]["containers"][0]["args"][1]


def test_a_dry_run_rbac_forbids_is_reported_with_the_servers_message(lab):
    load(lab, load_scenario(FIELD_REPORT))
    before = get(lab, DEPLOYMENT)
    run = gdoctor(
        "fix", "GD301", "--dry-run", "-o", "json", "--kubeconfig", str(lab.kubeconfig_reader)
    )
    assert run.code == 1, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    answers = {s["kind"]: s["answer"] for s in fix["steps"]}
    assert answers["Deployment"].startswith("HTTP 403: ")
    assert 'User "reader" cannot update resource "deployments"' in answers["Deployment"]
    assert 'User "reader" cannot update resource "services"' in answers["Service"]
    assert (
        get(lab, DEPLOYMENT)["metadata"]["resourceVersion"]
        == (before["metadata"]["resourceVersion"])
    )


# -- a webhook the apiserver never calls for Services ----------------------------------------

NOT_CALLED = SCENARIOS / "GD301" / "webhook-not-called-for-services-PASS"
CONFIGURATION = (
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/"
    "externalip-validation-webhook-configuration"
)


@pytest.mark.parametrize("configuration", ["selects-pods", "absent"])
def test_a_webhook_never_called_for_services_passes_with_and_without_the_probe(lab, configuration):
    """Its arguments reject Globalnet's global CIDR, but no configuration routes Services to
    it: `check --all` (its arguments, no probe) and `check GD301` (the dry run) both pass, and
    `fix GD301` has nothing to fix."""
    load(lab, load_scenario(NOT_CALLED))
    if configuration == "absent":
        lab.client("member1").delete(CONFIGURATION)
    before = get(lab, DEPLOYMENT)
    static = gdoctor("check", "--all", "--no-host", "-o", "json", *kubeconfig_args(lab))
    assert statuses(static.json())["GD301"] == dict.fromkeys(lab.clusters, "pass"), static.stdout
    probed = gdoctor("check", "GD301", "-o", "json", *kubeconfig_args(lab))
    assert statuses(probed.json())["GD301"] == dict.fromkeys(lab.clusters, "pass"), probed.stdout
    fix = gdoctor("fix", "GD301", "--yes", *kubeconfig_args(lab))
    assert (fix.code, fix.stdout) == (0, "nothing to fix: no selected check fails\n"), fix.stderr
    assert (
        get(lab, DEPLOYMENT)["metadata"]["resourceVersion"]
        == (before["metadata"]["resourceVersion"])
    )
    assert not lab.webhook_reviews("member1")  # the lab's webhook was never called either
