"""`gdoctor check --in-cluster` as a pod runs it: the service-account token and CA at the
kubelet's mount path, the apiserver from KUBERNETES_SERVICE_HOST/PORT, against a lab cluster.

The mount path is fixed (/var/run/secrets/kubernetes.io/serviceaccount), so gdoctor runs in a
private mount namespace with a tmpfs over /run holding the files: the machine's /run is never
touched.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from gdoctor_run import statuses
from lab_fixtures import load
from scenario import SCENARIOS, load_scenario

pytestmark = pytest.mark.lab

FIELD_REPORT = SCENARIOS / "field-report" / "before-repairs-FAIL"
ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod_files(lab, cluster: str, folder: Path) -> tuple[str, str]:
    """The token and CA a pod would have (the lab's read-only user), and host and port."""
    config = yaml.safe_load(Path(lab.kubeconfig_reader).read_text())
    (user,) = config["users"]
    entry = next(c["cluster"] for c in config["clusters"] if c["name"] == cluster)
    (folder / "token").write_text(user["user"]["token"])
    (folder / "ca.crt").write_bytes(base64.b64decode(entry["certificate-authority-data"]))
    url = urlsplit(entry["server"])
    return str(url.hostname), str(url.port)


def run_in_pod(
    folder: Path, host: str | None, port: str, *args: str
) -> subprocess.CompletedProcess:
    setup = (
        "mount -t tmpfs -o size=1m tmpfs /run && "
        f'mkdir -p {ACCOUNT_DIR} && cp "$0"/token "$0"/ca.crt {ACCOUNT_DIR}/ && '
        'shift && exec "$@"'
    )
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(folder / "home")  # no ~/.kube/config to fall back on
    env.pop("KUBERNETES_SERVICE_HOST", None)
    if host is not None:
        env |= {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
    argv = [
        shutil.which("unshare") or "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        setup,
        str(folder),
        "placeholder",
        sys.executable,
        "-m",
        "globalnet_doctor",
        *args,
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_in_cluster_reads_the_cluster_as_the_pods_service_account(lab, tmp_path):
    load(lab, load_scenario(FIELD_REPORT))
    host, port = pod_files(lab, "member2", tmp_path)
    run = run_in_pod(
        tmp_path, host, port, "check", "--all", "--in-cluster", "--no-host", "-o", "json"
    )
    assert run.returncode == 1, run.stderr  # the field report fails in member2 too
    report = json.loads(run.stdout)
    assert [c["name"] for c in report["clusters"]] == ["in-cluster"]
    assert report["clusters"][0]["server"] == f"https://{host}:{port}"
    from_kubeconfig = subprocess.run(
        [
            sys.executable,
            "-m",
            "globalnet_doctor",
            "check",
            "--all",
            "--no-host",
            "-o",
            "json",
            "--kubeconfig",
            str(lab.kubeconfig_reader),
            "--context",
            "member2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # The same results but for the cluster's name (host checks stay the host's).
    expected = {
        check: {"in-cluster" if name == "member2" else name: status for name, status in by.items()}
        for check, by in statuses(json.loads(from_kubeconfig.stdout)).items()
    }
    assert statuses(report) == expected
    assert expected["GD101"] == {"in-cluster": "fail"}  # member2 runs kube-proxy in IPVS mode


def test_without_a_kubeconfig_the_pods_service_account_is_used(lab, tmp_path):
    host, port = pod_files(lab, "member1", tmp_path)
    run = run_in_pod(tmp_path, host, port, "check", "GD001", "--no-host", "-o", "json")
    assert run.returncode in (0, 1), run.stderr
    assert [c["name"] for c in json.loads(run.stdout)["clusters"]] == ["in-cluster"]


def test_in_cluster_outside_a_pod_is_a_clear_error(lab, tmp_path):
    pod_files(lab, "member1", tmp_path)
    run = run_in_pod(tmp_path, None, "", "check", "--all", "--in-cluster", "--no-host")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "gdoctor: error: --in-cluster needs KUBERNETES_SERVICE_HOST (not running in a pod?)"
    )
    assert "Traceback" not in run.stderr
