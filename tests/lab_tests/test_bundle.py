"""Support bundles against the real lab: replay equals the live run, secrets never leave."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import re
import subprocess
import sys
import tarfile

import pytest
from gdoctor_run import gdoctor, statuses, without_timings
from lab.kubelet import NODE_NAME
from lab_fixtures import load
from scenario import SCENARIOS, load_scenario

pytestmark = pytest.mark.lab

FIELD_REPORT = SCENARIOS / "field-report" / "before-repairs-FAIL"
PLANTED = {
    "configmap token": "planted-token-6f1d2c9a",
    "broker psk": "planted-psk-0b9e77aa31",
    "password in last-applied": "planted-password-5a5a",
    "secret data": "planted-secret-data-c0ffee",
    "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ",
}


def make_bundle(lab, tmp_path, *args):
    path = tmp_path / "bundle.tar.gz"
    run = gdoctor(
        "bundle", "-o", str(path), "--no-host", "--kubeconfig", str(lab.kubeconfig), *args
    )
    assert run.code == 0, run.stderr
    return path


def recorded_report(path):
    with tarfile.open(path) as archive:
        return json.loads(archive.extractfile("report.json").read())


def test_replay_gives_the_live_results_but_for_timings(lab, tmp_path):
    scenario = load_scenario(FIELD_REPORT)
    load(lab, scenario)
    path = make_bundle(lab, tmp_path, "--probes", *scenario.args[:2])
    replay = gdoctor("check", "--all", "--bundle", str(path), "-o", "json")
    assert replay.code == 1, replay.stderr
    assert without_timings(replay.json()) == without_timings(recorded_report(path))
    live = gdoctor(
        "check",
        "--all",
        "--probes",
        *scenario.args,
        "-o",
        "json",
        "--kubeconfig",
        str(lab.kubeconfig),
    )
    assert statuses(live.json()) == statuses(replay.json())
    assert statuses(replay.json())["GD301"]["member1"] == "fail"  # the probe's answer, recorded


def test_what_the_bundle_lacks_is_skipped_as_not_in_bundle(lab, tmp_path):
    load(lab, load_scenario(FIELD_REPORT))
    path = make_bundle(lab, tmp_path, "--select", "GD101")
    replay = gdoctor("check", "--all", "--bundle", str(path), "-o", "json").json()
    by_check = {(r["check"], r["cluster"]): r for r in replay["results"]}
    assert by_check["GD101", "member1"]["status"] == "fail"
    assert by_check["GD203", "member1"]["status"] == "skip"
    assert by_check["GD203", "member1"]["skipReason"].startswith("not in bundle: ")


def plant_secrets(lab):
    token, psk = PLANTED["configmap token"], PLANTED["broker psk"]
    last_applied = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "data": {"password": PLANTED["password in last-applied"]},
        }
    )
    client = lab.client("member1")
    client.merge_patch(
        "/api/v1/namespaces/kube-system/configmaps/coredns",
        {
            "data": {"token": token, "jwt-note": f"bearer {PLANTED['jwt']}"},
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}
            },
        },
    )
    client.merge_patch(
        "/apis/submariner.io/v1alpha1/namespaces/submariner-operator/submariners/submariner",
        {"spec": {"ceIPSecPSK": psk}},
    )
    lab.apply(
        "member1",
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "submariner-ipsec-psk", "namespace": "submariner-operator"},
                "type": "Opaque",
                "stringData": {"psk": PLANTED["secret data"]},
            }
        ],
    )


def every_reading(data: bytes):
    """The member as stored, gunzipped when it is gzip, and every base64 run in it decoded."""
    yield data
    with contextlib.suppress(OSError, EOFError):
        yield gzip.decompress(data)
    for blob in re.findall(rb"[A-Za-z0-9+/=_-]{16,}", data):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                yield decode(blob + b"=" * (-len(blob) % 4))
            except (binascii.Error, ValueError):
                continue


def test_planted_secrets_never_reach_the_archive(lab, tmp_path):
    load(lab, load_scenario(FIELD_REPORT))
    plant_secrets(lab)
    path = make_bundle(lab, tmp_path, "--probes", "--logs")
    raw = path.read_bytes()
    with tarfile.open(path) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}
    assert len(members) > 10
    for name, data in [("<archive>", raw), *members.items()]:
        for reading in every_reading(data):
            for what, value in PLANTED.items():
                assert value.encode() not in reading, f"{what} leaked in {name}"
    manifest = json.loads(members["manifest.json"])
    rules = {(r["rule"], r["where"].rsplit(".", 1)[-1]) for r in manifest["redactions"]}
    assert ("secret-key", "token") in rules
    assert ("secret-key", "ceIPSecPSK") in rules
    assert ("secret-key", "password") in rules
    assert any(r["rule"] == "jwt" for r in manifest["redactions"])
    # The scenario's pods run on nodes no kubelet answers for: not collected, with the reason.
    assert any("log of" in s["what"] for s in manifest["skipped"])


def test_pod_logs_are_collected_as_asked_capped_and_scrubbed(lab, tmp_path):
    """Through the apiserver's pods/log, which asks the kubelet of the pod's node (the lab's)."""
    load(lab, load_scenario(FIELD_REPORT))
    kubelet = lab.kubelet("member1")
    namespace, pod, container = "submariner-operator", "submariner-gateway-lab", "gateway"
    lab.apply(
        "member1",
        [
            kubelet.node(),
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": namespace},
                "spec": {
                    "nodeName": NODE_NAME,
                    "containers": [{"name": container, "image": "submariner-gateway:0.14.6"}],
                },
            },
        ],
    )
    first = "I1127 05:00:00 gateway started\n"
    kubelet.set_log(namespace, pod, container, f"{first}bearer {PLANTED['jwt']}\n" + "x" * 4000)
    path = make_bundle(lab, tmp_path, "--logs", "--since", "10m", "--max-log-bytes", "2000")
    with tarfile.open(path) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}
    member = f"logs/pods/member1/{namespace}/{pod}/{container}.log"
    log = members[member]
    assert log.startswith(first.encode())
    assert PLANTED["jwt"].encode() not in log
    assert b"bearer <redacted>\n" in log
    assert len(log) < 2000  # the first 2,000 bytes, then the JWT shortened by redaction
    (request,) = [r for r in kubelet.requests() if r.pod == pod]
    assert (request.namespace, request.container) == (namespace, container)
    assert (request.query["sinceSeconds"], request.query["limitBytes"]) == ("600", "2000")
    manifest = json.loads(members["manifest.json"])
    assert {"member": member, "where": "$", "rule": "jwt"} in manifest["redactions"]
    assert not [s for s in manifest["skipped"] if pod in s["what"]]


def test_offline_analysis_imports_neither_kubernetes_nor_scapy(lab, tmp_path):
    load(lab, load_scenario(FIELD_REPORT))
    path = make_bundle(lab, tmp_path)
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['gdoctor', 'check', '--all', '--bundle', {str(path)!r}, '-o', 'json']\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        runpy.run_module('globalnet_doctor', run_name='__main__')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'scapy'))\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr.endswith("[]")


def test_diff_lists_what_appeared_disappeared_and_changed(lab, tmp_path):
    load(lab, load_scenario(FIELD_REPORT))
    before = tmp_path / "before.json"
    before.write_text(
        gdoctor("check", "--all", "-o", "json", "--kubeconfig", str(lab.kubeconfig)).stdout
    )
    lab.reset()
    load(lab, load_scenario(SCENARIOS / "GD101" / "ipvs-in-configmap-FAIL"))
    after = tmp_path / "after.json"
    after.write_text(
        gdoctor("check", "--all", "-o", "json", "--kubeconfig", str(lab.kubeconfig)).stdout
    )
    run = gdoctor("diff", str(before), str(after))
    assert run.code == 1
    lines = run.stdout.splitlines()
    assert any(line.startswith("- GD201 member1 ") for line in lines)
    assert not any(line.startswith(("+ GD101 member1", "- GD101 member1")) for line in lines)
    assert any(
        line.startswith("- GD101 member2 ConfigMap kube-system/kube-proxy") for line in lines
    )
    same = gdoctor("diff", str(after), str(after))
    assert (same.code, same.stdout) == (0, "no findings appeared, disappeared or changed\n")
