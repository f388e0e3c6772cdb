"""`gdoctor diff`: honest about what it compares (the checks on the recorded data), about clusters
it could not read, about statuses, and about several findings on one resource."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor.bundle import BundleWriter, read_bundle
from globalnet_doctor.diffing import ChangeKind, Side, diff_sides, exit_code, validated_report
from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import ExitCode

DEMO = Path(str(files("globalnet_doctor") / "demo" / "field-report.tar.gz"))
_WRITER_KEYS = {"formatVersion", "gdoctorVersion", "collectedAt", "members", "skipped"}


def finding(message: str, name: str = "kube-proxy", **extra: Any) -> dict[str, Any]:
    resource = {"kind": "ConfigMap", "namespace": "kube-system", "name": name}
    return {"severity": "error", "message": message, "resources": [resource], **extra}


def report(*results: dict[str, Any], unreachable: tuple[str, ...] = ()) -> dict[str, Any]:
    clusters = [
        {"name": c, "reachable": c not in unreachable, "error": "timed out" * (c in unreachable)}
        for c in ("member1", "member2")
    ]
    return {"schemaVersion": 1, "clusters": clusters, "results": list(results)}


def result(check: str, cluster: str, status: str, *found: dict[str, Any]) -> dict[str, Any]:
    return {"check": check, "cluster": cluster, "status": status, "findings": list(found)}


def side(data: dict[str, Any]) -> Side:
    validated = validated_report(data, Path("x.json"))
    unreachable = {c["name"]: c["error"] for c in validated["clusters"] if not c["reachable"]}
    return Side(validated, unreachable)


def test_removing_one_of_several_findings_on_a_resource_is_a_disappearance_not_a_change():
    one, two = finding("first problem"), finding("second problem")
    old = side(report(result("GD101", "member1", "fail", one, two)))
    new = side(report(result("GD101", "member1", "fail", two)))
    changes = diff_sides(old, new)
    assert [(c.kind, c.old) for c in changes] == [(ChangeKind.DISAPPEARED, one)]


def test_a_changed_finding_names_what_changed_inside_it():
    old = side(report(result("GD101", "member1", "fail", finding("m", evidence={"a": 1, "b": 2}))))
    new = side(report(result("GD101", "member1", "fail", finding("m", evidence={"a": 1, "b": 3}))))
    (change,) = diff_sides(old, new)
    assert change.kind is ChangeKind.CHANGED
    assert change.changed_fields == ("evidence.b",)


def test_findings_of_a_cluster_that_became_unreachable_are_unknown_not_gone():
    old = side(report(result("GD101", "member2", "fail", finding("ipvs"))))
    new = side(report(result("GD101", "member2", "error"), unreachable=("member2",)))
    changes = diff_sides(old, new)
    assert {c.kind for c in changes} == {ChangeKind.REACHABILITY, ChangeKind.UNKNOWN}
    assert exit_code(changes, old, new) is ExitCode.INCOMPLETE


def test_a_status_moving_to_error_or_skip_is_shown():
    old = side(report(result("GD301", "member1", "pass")))
    new = side(report(result("GD301", "member1", "skip")))
    (change,) = diff_sides(old, new)
    assert (change.kind, change.note) == (ChangeKind.STATUS, "pass -> skip")
    assert exit_code([change], old, new) is ExitCode.FINDINGS


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ({"schemaVersion": 1, "results": 5}, "results must be a list"),
        ({"schemaVersion": 1, "results": [{"cluster": "a", "status": "pass"}]}, "has no check"),
        ({"schemaVersion": 1, "results": [{"check": "GD1", "cluster": "a"}]}, "has no status"),
        (
            {"schemaVersion": 1, "results": [{"check": "G", "cluster": "a", "status": "bad"}]},
            "status is not one of",
        ),
        ({"schemaVersion": 2, "results": []}, "not a gdoctor report"),
        ([], "not a gdoctor report"),
    ],
)
def test_malformed_reports_are_usage_errors(broken, says):
    with pytest.raises(UsageError, match=says):
        validated_report(broken, Path("r.json"))


def rewritten_bundle(path: Path, change) -> Path:
    """A copy of the demo bundle with ``change(members)`` applied, its manifest made anew."""
    original = read_bundle(DEMO)
    writer = BundleWriter()
    writer.members = dict(original.members)
    writer.skipped = list(original.manifest["skipped"])
    change(writer.members)
    extra = {k: v for k, v in original.manifest.items() if k not in _WRITER_KEYS}
    writer.write(path, datetime.now(UTC), extra)
    return path


def test_diff_of_a_bundle_and_the_same_bundle_with_a_cluster_unreachable(tmp_path):
    def unreachable_member2(members: dict[str, bytes]) -> None:
        for name in [m for m in members if m.startswith("clusters/member2/reads/")]:
            del members[name]
        header = json.loads(members["clusters/member2/cluster.json"])
        header.update(reachable=False, error="connection refused", kubernetesVersion=None)
        members["clusters/member2/cluster.json"] = json.dumps(header).encode()

    after = rewritten_bundle(tmp_path / "after.tar.gz", unreachable_member2)
    run = gdoctor("diff", str(DEMO), str(after))
    assert run.code in (1, 3), run.stderr
    lines = run.stdout.splitlines()
    assert "! member2 became unreachable: connection refused" in lines
    assert any(line.startswith("? ") and " member2 " in line for line in lines)
    assert not any(line.startswith("- ") and " member2 " in line for line in lines)
    # The global CIDRs are named in one order whichever cluster knew them (here the broker):
    # GD602's finding changes (the gateway nodes it knows), it does not disappear and reappear.
    assert not any(line.startswith(("+ GD602", "- GD602")) for line in lines)


def test_an_edited_report_inside_a_bundle_does_not_win(tmp_path):
    def emptied_report(members: dict[str, bytes]) -> None:
        stored = json.loads(members["report.json"])
        stored["results"] = []
        members["report.json"] = json.dumps(stored).encode()

    edited = rewritten_bundle(tmp_path / "edited.tar.gz", emptied_report)
    run = gdoctor("diff", str(DEMO), str(edited))
    assert (run.code, run.stdout) == (0, "no findings appeared, disappeared or changed\n")


def test_a_json_report_not_named_json_is_read_as_a_report(tmp_path):
    data = report(result("GD101", "member1", "pass"))
    first, second = tmp_path / "before.out", tmp_path / "after.txt"
    first.write_text(json.dumps(data))
    second.write_text(json.dumps(copy.deepcopy(data)))
    run = gdoctor("diff", str(first), str(second))
    assert (run.code, run.stderr) == (0, "")


def test_control_characters_from_a_report_are_escaped(tmp_path):
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps(report(result("GD101", "member1", "pass"))))
    hostile = finding("clear\x1b[2J screen\r\n+ fake line", name="evil\x07")
    new.write_text(json.dumps(report(result("GD101", "member1", "fail", hostile))))
    run = gdoctor("diff", str(old), str(new))
    assert run.code == 1
    assert "\x1b" not in run.stdout
    assert "\x07" not in run.stdout
    assert len(run.stdout.splitlines()) == 1
