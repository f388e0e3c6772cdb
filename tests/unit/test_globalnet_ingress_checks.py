"""GD301-GD305 over hand-built views: the paths the lab's scenarios cannot take (GD301 named
always probes there), and the pure helpers the checks share."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from globalnet_doctor_checks.gd301_externalips_admission_denied import (
    ExternalIpsAdmissionDenied,
    ProbeUnanswered,
)
from globalnet_doctor_checks.gd302_global_ingress_ip_missing import GlobalIngressIpMissing
from views_from_objects import view_answering, with_lab_webhook

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.admission import (
    Verdict,
    admission_probe,
    cidrs_cover,
    classify,
    flag_values,
)
from globalnet_doctor.facts.globalnet import internal_service_name
from globalnet_doctor.facts.submariner import submariner_version
from globalnet_doctor.model import Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable
from globalnet_doctor.view import ClusterView, ProbeAnswer

SETTINGS = Settings()
GLOBALNET = "system:serviceaccount:submariner-operator:submariner-globalnet"
DENIED_BY_PLUGIN = (
    'services "submariner-ouajjylqjq3zjzzktlytsczndaheiwct" is forbidden: Use of external IPs '
    "is denied by admission control"
)


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **body: Any):
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(body.pop("metadata", {}))
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def submariner(global_cidr: str | None = "242.0.0.0/16", version: str = "0.14.6"):
    spec = {"clusterID": "cluster-a", "version": version}
    if global_cidr:
        spec["globalCIDR"] = global_cidr
    return obj(
        "submariner.io/v1alpha1", "Submariner", "submariner", "submariner-operator", spec=spec
    )


def webhook(*args: str):
    container = {"name": "webhook", "command": ["/webhook"], "args": list(args)}
    return obj(
        "apps/v1",
        "Deployment",
        "externalip-validation-webhook",
        "externalip-validation-system",
        spec={"template": {"spec": {"containers": [container]}}},
    )


def failed_ingress_ip(message: str):
    condition = {
        "type": "Allocated",
        "status": "False",
        "reason": "InternalServiceCreationFailed",
        "message": message,
    }
    return obj(
        "submariner.io/v1",
        "GlobalIngressIP",
        "external-dns-cluster-a",
        "submariner-operator",
        spec={"target": "ClusterIPService", "serviceRef": {"name": "external-dns-cluster-a"}},
        status={"allocatedIP": "", "conditions": [condition]},
    )


def exported_dns():
    return [
        obj(
            "v1",
            "Service",
            "external-dns-cluster-a",
            "submariner-operator",
            spec={"type": "ClusterIP", "selector": {"app": "dns"}, "ports": [{"port": 53}]},
        ),
        obj(
            "multicluster.x-k8s.io/v1alpha1",
            "ServiceExport",
            "external-dns-cluster-a",
            "submariner-operator",
        ),
    ]


def view_for(check: type[Check], objects: list[dict[str, Any]]) -> ClusterView:
    """A view answering every read `check` declares from `objects`."""
    return view_answering("member1", check.reads(SETTINGS), with_lab_webhook("member1", objects))


def run(check: type[Check], view: ClusterView) -> list[Any]:
    return list(check().run(CheckContext(view, [view], SETTINGS)))


def with_probe(view: ClusterView, answer: ProbeAnswer) -> ClusterView:
    probe = admission_probe(view, SETTINGS)
    assert probe is not None
    view.probe_answers[probe] = answer
    return view


# -- helpers ------------------------------------------------------------------------------


def test_internal_service_names_hash_only_the_service_name() -> None:
    assert internal_service_name("nginx") == "submariner-lpq6zr4tl4o5qvrv2t7o3l3gawkagast"


def test_webhook_flags_parse_like_pflag_string_slices() -> None:
    words = ["/webhook", "--allowed-usernames", "a,b", "--allowed-usernames=c", "--other=x"]
    assert flag_values(words, "--allowed-usernames") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("cidrs", "covered"),
    [
        (["242.0.0.0/16"], True),
        (["242.0.0.0/8"], True),
        (["242.0.0.0/17", "242.0.128.0/17"], True),  # two halves, merged
        (["242.1.0.0/16"], False),  # the field report's first attempt
        (["242.0.0.0/17"], False),
        (["fd00::/8", "not-a-cidr"], False),
    ],
)
def test_allowed_cidrs_must_contain_the_global_cidr(cidrs: list[str], covered: bool) -> None:
    assert cidrs_cover(cidrs, ipaddress.ip_network("242.0.0.0/16")) is covered


@pytest.mark.parametrize(
    ("version", "parsed"),
    [("0.14.6", (0, 14)), ("v0.11.2", (0, 11)), ("release-0.12", (0, 12)), ("devel", None)],
)
def test_submariner_versions(version: str, parsed: tuple[int, int] | None) -> None:
    assert submariner_version(submariner(version=version)) == parsed


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (ProbeAnswer(201), Verdict.ADMITTED),
        (ProbeAnswer(403, DENIED_BY_PLUGIN, "Forbidden"), Verdict.DENIED_BY_ADMISSION),
        (
            ProbeAnswer(
                422,
                'Service "x" is forbidden: spec.externalIPs: Forbidden: externalIPs '
                "have been disabled",
            ),
            Verdict.DENIED_BY_ADMISSION,
        ),
        (
            ProbeAnswer(403, f'services is forbidden: User "{GLOBALNET}" cannot create resource'),
            Verdict.FORBIDDEN_BY_RBAC,
        ),
        (
            ProbeAnswer(500, 'Internal error occurred: failed calling webhook "x": EOF'),
            Verdict.WEBHOOK_UNREACHABLE,
        ),
        (
            ProbeAnswer(403, 'users "x" is forbidden: User "reader" cannot impersonate resource'),
            Verdict.NOT_PERMITTED,
        ),
        (ProbeAnswer(404, 'namespaces "submariner-operator" not found'), Verdict.OTHER),
    ],
)
def test_probe_answers_are_classified(answer: ProbeAnswer, verdict: Verdict) -> None:
    assert classify(answer) is verdict


def test_the_probe_impersonates_globalnet_with_an_ip_of_the_global_cidr() -> None:
    view = view_for(ExternalIpsAdmissionDenied, [submariner()])
    probe = admission_probe(view, SETTINGS)
    assert probe is not None
    assert probe.impersonate_user == GLOBALNET
    assert probe.impersonate_groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:submariner-operator",
        "system:authenticated",
    )
    assert '"externalIPs": ["242.0.0.1"]' in probe.body
    assert '"generateName": "gdoctor-admission-probe-"' in probe.body
    assert ExternalIpsAdmissionDenied.probe_requests(view, SETTINGS) == (probe,)


# -- GD301 without a probe -----------------------------------------------------------------


def test_without_the_probe_the_webhook_arguments_decide() -> None:
    view = view_for(
        ExternalIpsAdmissionDenied,
        [submariner(), webhook("--allowed-external-ip-cidrs=242.1.0.0/16,bogus")],
    )
    (finding,) = run(ExternalIpsAdmissionDenied, view)
    assert finding.severity is Severity.ERROR
    assert finding.evidence["webhook"]["problems"] == [
        "--allowed-external-ip-cidrs has bogus, which is not a CIDR: the webhook cannot start",
        "--allowed-external-ip-cidrs (242.1.0.0/16, bogus) does not cover the global CIDR "
        "242.0.0.0/16",
    ]
    assert finding.remediation.fix == "GD301"
    assert "add 242.0.0.0/16 to --allowed-external-ip-cidrs" in finding.remediation.text
    # No usernames and no groups: the webhook lets everyone set allowed IPs.
    assert "--allowed-usernames" not in finding.remediation.text


def test_without_the_probe_an_unexplained_denial_is_only_a_warning() -> None:
    """The DenyServiceExternalIPs plugin is a server flag: only the probe can tell whether it
    still rejects Globalnet."""
    view = view_for(
        ExternalIpsAdmissionDenied,
        [
            submariner(),
            failed_ingress_ip(f"error creating or updating resource: {DENIED_BY_PLUGIN}"),
        ],
    )
    (finding,) = run(ExternalIpsAdmissionDenied, view)
    assert finding.severity is Severity.WARNING
    assert finding.remediation.fix is None
    assert finding.evidence["failedExports"][0]["message"].endswith(DENIED_BY_PLUGIN)


def test_a_webhook_denial_explained_by_now_clean_arguments_is_gd302s() -> None:
    message = 'admission webhook "validate-externalip.webhook.svc" denied the request: ...'
    view = view_for(
        ExternalIpsAdmissionDenied,
        [
            submariner(),
            webhook("--allowed-external-ip-cidrs=242.0.0.0/16", f"--allowed-usernames={GLOBALNET}"),
            failed_ingress_ip(message),
        ],
    )
    assert run(ExternalIpsAdmissionDenied, view) == []


def test_when_gdoctor_may_not_impersonate_the_static_evidence_decides() -> None:
    view = view_for(
        ExternalIpsAdmissionDenied,
        [
            submariner(),
            webhook("--allowed-external-ip-cidrs=242.0.0.0/16", "--allowed-usernames=x"),
        ],
    )
    with_probe(view, ProbeAnswer(403, 'User "reader" cannot impersonate resource "users"'))
    (finding,) = run(ExternalIpsAdmissionDenied, view)
    assert finding.evidence["webhook"]["problems"] == [f"--allowed-usernames (x) lacks {GLOBALNET}"]


def test_an_answer_that_says_nothing_about_admission_is_an_error() -> None:
    view = with_probe(view_for(ExternalIpsAdmissionDenied, [submariner()]), ProbeAnswer(0, "no"))
    with pytest.raises(ProbeUnanswered):
        run(ExternalIpsAdmissionDenied, view)


def test_globalnet_off_skips() -> None:
    view = view_for(ExternalIpsAdmissionDenied, [submariner(global_cidr=None)])
    with pytest.raises(NotApplicable, match="Globalnet is off"):
        run(ExternalIpsAdmissionDenied, view)


# -- GD302 ------------------------------------------------------------------------------------


def test_gd302_cannot_tell_without_webhook_or_probe() -> None:
    view = view_for(
        GlobalIngressIpMissing,
        [submariner(), *exported_dns(), failed_ingress_ip(DENIED_BY_PLUGIN)],
    )
    (finding,) = run(GlobalIngressIpMissing, view)
    assert finding.message == (
        "exported Service submariner-operator/external-dns-cluster-a has no global IP: admission "
        "denied Globalnet's internal Service, and gdoctor cannot tell whether admission still "
        "rejects it; Globalnet is not running either (DaemonSet submariner-globalnet does not "
        "exist)"
    )
    assert finding.evidence["admissionNow"] == "unknown"


def test_gd302_reads_gd301s_probe_answer_when_it_was_sent() -> None:
    view = view_for(
        GlobalIngressIpMissing,
        [submariner(), *exported_dns(), failed_ingress_ip(DENIED_BY_PLUGIN)],
    )
    with_probe(view, ProbeAnswer(403, DENIED_BY_PLUGIN, "Forbidden"))
    (finding,) = run(GlobalIngressIpMissing, view)
    assert "admission rejects Globalnet's internal Service (GD301)" in finding.message
    assert finding.evidence["probe"]["message"] == DENIED_BY_PLUGIN
