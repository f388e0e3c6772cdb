from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import ExitCode
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Severity, Status
from globalnet_doctor.registry import Registry, RegistryError
from globalnet_doctor.runner import RunOptions, exit_code_for, run_checks
from globalnet_doctor.spec import Check, CheckPack, NotApplicable
from globalnet_doctor.view import ClusterView, ReadAnswer


def make_check(check_id: str, name: str, behaviour, tags=frozenset(), severity=Severity.ERROR):
    def run(self, ctx):
        return behaviour(self, ctx)

    return type(
        f"Check{check_id}",
        (Check,),
        {
            "id": check_id,
            "name": name,
            "title": name,
            "severity": severity,
            "tags": frozenset(tags),
            "run": run,
        },
    )


def finds(message: str, severity=None):
    return lambda self, ctx: [self.finding(message, severity=severity)]


def passes(self, ctx):
    return []


def crashes(self, ctx):
    raise KeyError("spec")


def sleeps(self, ctx):
    time.sleep(5)
    return []


def not_applicable(self, ctx):
    raise NotApplicable("Calico is not installed")


def reads_forbidden(self, ctx):
    ctx.cluster.list(kinds.NODES)
    return []


def view(name="c1", reachable=True, answers=None):
    v = ClusterView(name, f"https://{name}", datetime.now(UTC), reachable=reachable)
    v.error = None if reachable else "connection refused"
    v.answers = answers or {}
    return v


def test_duplicate_ids_and_names_are_refused_at_load():
    a = make_check("GD900", "one", passes)
    b = make_check("GD900", "two", passes)
    c = make_check("GD901", "one", passes)
    with pytest.raises(RegistryError, match="duplicate check id GD900"):
        Registry.from_packs([CheckPack((a, b))])
    with pytest.raises(RegistryError, match="duplicate check name one"):
        Registry.from_packs([CheckPack((a,)), CheckPack((c,))])


def test_ids_must_look_like_catalogue_ids():
    with pytest.raises(RegistryError, match="not like GD123"):
        Registry.from_packs([CheckPack((make_check("gd1", "x", passes),))])


def test_selection_by_id_name_tag_and_glob_minus_ignore():
    a = make_check("GD101", "kube-proxy-ipvs", passes, tags={"kube-proxy"})
    b = make_check("GD201", "calico-not-vxlan", passes, tags={"calico"})
    c = make_check("GD202", "calico-bird-probes", passes, tags={"calico"})
    registry = Registry.from_packs([CheckPack((c, a, b))])
    assert registry.select() == (a, b, c)
    assert registry.select(["gd101"]) == (a,)
    assert registry.select(["calico-bird-probes"]) == (c,)
    assert registry.select(["calico"]) == (b, c)
    assert registry.select(["GD2*"], ["GD202"]) == (b,)
    with pytest.raises(UsageError, match="no check matches 'GD999'"):
        registry.select(["GD999"])


def run(checks, views, timeout=30.0):
    options = RunOptions(settings=Settings(check_timeout=timeout))
    return run_checks(checks, views, options)


def test_one_result_per_check_and_cluster_in_kubeconfig_order():
    checks = [make_check("GD101", "a", passes), make_check("GD102", "b", finds("bad"))]
    results = run(checks, [view("m1"), view("m2")])
    assert [(r.check, r.cluster, r.status) for r in results] == [
        ("GD101", "m1", Status.PASS),
        ("GD101", "m2", Status.PASS),
        ("GD102", "m1", Status.FAIL),
        ("GD102", "m2", Status.FAIL),
    ]


def test_a_crashing_check_is_an_error_with_one_line_and_the_run_goes_on():
    checks = [make_check("GD101", "a", crashes), make_check("GD102", "b", passes)]
    results = run(checks, [view()])
    assert results[0].status is Status.ERROR
    assert results[0].error == "KeyError: 'spec'"
    assert results[1].status is Status.PASS


def test_a_check_past_its_timeout_is_an_error():
    started = time.monotonic()
    (result,) = run([make_check("GD101", "slow", sleeps)], [view()], timeout=0.2)
    assert result.status is Status.ERROR
    assert "did not finish within 0.2 s" in (result.error or "")
    assert time.monotonic() - started < 2


def test_missing_inputs_and_inapplicable_checks_skip_with_the_reason():
    answers = {Read(kinds.NODES): ReadAnswer(unavailable="forbidden: list nodes")}
    results = run(
        [make_check("GD101", "a", reads_forbidden), make_check("GD102", "b", not_applicable)],
        [view(answers=answers)],
    )
    assert [(r.status, r.skip_reason) for r in results] == [
        (Status.SKIP, "forbidden: list nodes"),
        (Status.SKIP, "Calico is not installed"),
    ]


def test_checks_of_an_unreachable_cluster_are_errors_the_others_run():
    results = run([make_check("GD101", "a", passes)], [view("m1", reachable=False), view("m2")])
    assert [(r.cluster, r.status) for r in results] == [
        ("m1", Status.ERROR),
        ("m2", Status.PASS),
    ]
    assert results[0].error == "cluster unreachable: connection refused"


def test_result_severity_is_the_highest_finding_else_the_default():
    warn_only = make_check("GD101", "a", finds("meh", Severity.WARNING))
    (result,) = run([warn_only], [view()])
    assert result.severity is Severity.WARNING
    (passing,) = run([make_check("GD102", "b", passes)], [view()])
    assert passing.severity is Severity.ERROR


@pytest.mark.parametrize(
    ("fail_on", "incomplete", "expected"),
    [
        ("error", False, ExitCode.OK),
        ("warning", False, ExitCode.FINDINGS),
        ("warning", True, ExitCode.FINDINGS),
        ("never", True, ExitCode.INCOMPLETE),
        ("error", True, ExitCode.INCOMPLETE),
    ],
)
def test_exit_code_threshold_then_completeness(fail_on, incomplete, expected):
    (result,) = run([make_check("GD101", "a", finds("meh", Severity.WARNING))], [view()])
    assert exit_code_for([result], incomplete, fail_on) is expected


def test_skips_never_change_the_exit_code():
    answers = {Read(kinds.NODES): ReadAnswer(unavailable="forbidden: list nodes")}
    results = run([make_check("GD101", "a", reads_forbidden)], [view(answers=answers)])
    assert exit_code_for(results, False, "warning") is ExitCode.OK
