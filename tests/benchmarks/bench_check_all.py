"""Benchmark: `gdoctor check --all` against three lab clusters with 2,000 exported services each.

Compared, in the same run, with the floor: a raw-JSON paginated LIST of the same kinds
(Services, ServiceExports, GlobalIngressIPs, EndpointSlices; the internal Services are Services),
the three clusters in parallel, no model classes. Target: gdoctor within 2x of the floor.

    sudo .venv/bin/python tests/benchmarks/bench_check_all.py [--services 2000] [--write]

With --write the results replace the marked section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from lab import Lab  # noqa: E402

NAMESPACE = "bench"
GLOBAL_PREFIX = {"member1": "242.0", "member2": "242.1", "member3": "242.2"}
FLOOR_PATHS = (
    "/api/v1/services",
    "/apis/multicluster.x-k8s.io/v1alpha1/serviceexports",
    "/apis/submariner.io/v1/globalingressips",
    "/apis/discovery.k8s.io/v1beta1/endpointslices",
)
DOCS = ROOT / "docs" / "benchmarks.md"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEGIN, END = "<!-- bench_check_all:begin -->", "<!-- bench_check_all:end -->"


def internal_name(service: str) -> str:
    digest = base64.b32encode(hashlib.sha256(service.encode()).digest()).decode()
    return "submariner-" + digest[:32].lower()


def exported_services(cluster: str, count: int) -> list[dict[str, Any]]:
    """What Submariner leaves for each exported ClusterIP service, as a controller would."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    ]
    prefix = GLOBAL_PREFIX[cluster]
    for i in range(count):
        name = f"svc-{i}"
        ip = f"{prefix}.{i // 250 + 1}.{i % 250 + 1}"
        meta = {"name": name, "namespace": NAMESPACE}
        ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": {"app": name}, "ports": ports},
        }
        # As `kubectl apply` leaves it: JSON inside a string, which redaction must look into.
        applied = {
            **service,
            "metadata": {**meta, "annotations": {LAST_APPLIED: json.dumps(service)}},
        }
        objects += [
            applied,
            {
                "apiVersion": "multicluster.x-k8s.io/v1alpha1",
                "kind": "ServiceExport",
                "metadata": meta,
                "status": {
                    "conditions": [{"type": "Valid", "status": "True", "reason": "", "message": ""}]
                },
            },
            {
                "apiVersion": "submariner.io/v1",
                "kind": "GlobalIngressIP",
                "metadata": meta,
                "spec": {"target": "ClusterIPService", "serviceRef": {"name": name}},
                "status": {
                    "allocatedIP": ip,
                    "conditions": [
                        {
                            "type": "Allocated",
                            "status": "True",
                            "reason": "Success",
                            "message": "Allocated global IP",
                            "lastTransitionTime": "2026-11-27T00:00:00Z",
                        }
                    ],
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": internal_name(name),
                    "namespace": NAMESPACE,
                    "labels": {"submariner.io/exportedServiceRef": name},
                },
                "spec": {"selector": {"app": name}, "ports": ports, "externalIPs": [ip]},
            },
            {
                "apiVersion": "discovery.k8s.io/v1beta1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-{cluster}",
                    "namespace": NAMESPACE,
                    "labels": {
                        "multicluster.kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "lighthouse-agent.submariner.io",
                    },
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [ip]}],
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            },
        ]
    return objects


def floor_seconds(lab: Lab) -> float:
    """One raw-JSON paginated LIST per kind, clusters in parallel (the lab's urllib3 client)."""

    def read_cluster(cluster: str) -> int:
        client = lab.client(cluster)
        items = 0
        for path in FLOOR_PATHS:
            token = ""
            while True:
                query: dict[str, str | int] = {"limit": 500}
                if token:
                    query["continue"] = token
                page = client.get(path, **query)
                items += len(page["items"])
                token = page["metadata"].get("continue") or ""
                if not token:
                    break
        return items

    started = time.perf_counter()
    with ThreadPoolExecutor(len(lab.clusters)) as pool:
        list(pool.map(read_cluster, lab.clusters))
    return time.perf_counter() - started


def gdoctor_seconds(lab: Lab) -> float:
    """`check --all` in-process from the read to the report, as diagnose() runs it."""
    from globalnet_doctor.config import Settings
    from globalnet_doctor.diagnose import diagnose
    from globalnet_doctor.kubeconfig import resolve_targets
    from globalnet_doctor.registry import load_registry
    from globalnet_doctor.runner import RunOptions

    checks = load_registry().checks
    targets = resolve_targets(str(lab.kubeconfig), ()).targets
    started = time.perf_counter()
    report = diagnose(checks, targets, RunOptions(settings=Settings(request_timeout=60)))
    elapsed = time.perf_counter() - started
    assert all(c.reachable for c in report.clusters)
    return elapsed


def run_gdoctor(*args: str) -> float:
    """`python -m globalnet_doctor ARGS` as a process, output discarded: its wall seconds."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "globalnet_doctor", *args]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def gdoctor_process(lab: Lab) -> tuple[float, int]:
    """The whole command in a process: wall seconds and peak RSS in MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    args = ("check", "--all", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    elapsed = run_gdoctor(*args, "--request-timeout", "60")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) // 1024


def bundle_seconds(lab: Lab, path: Path) -> float:
    """`gdoctor bundle` of every check, in-process from the read to the written archive."""
    from globalnet_doctor.collect import collect
    from globalnet_doctor.config import Settings
    from globalnet_doctor.host_situation import HostMode
    from globalnet_doctor.kubeconfig import resolve_targets
    from globalnet_doctor.registry import load_registry
    from globalnet_doctor.runner import HostOptions, RunOptions

    checks = load_registry().checks
    targets = resolve_targets(str(lab.kubeconfig), ()).targets
    options = RunOptions(settings=Settings(request_timeout=60), host=HostOptions(HostMode.OFF))
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    collect(checks, targets, options, path)
    return time.perf_counter() - started


def offline_process(path: Path) -> float:
    """`gdoctor check --all --bundle` as a process, from entry to exit (imports included)."""
    return run_gdoctor("check", "--all", "--bundle", str(path), "-o", "json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--keep-bundle", type=Path, help="copy the bundle made here to this path")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="gdoctor-bench-") as workdir,
        Lab.start(Path(workdir)) as lab,
    ):
        loading = time.perf_counter()
        for cluster in lab.clusters:
            objects = exported_services(cluster, args.services)
            services = [o for o in objects if o["kind"] in ("Namespace", "Service")]
            lab.apply_many(cluster, services, workers=2)
            lab.apply_many(
                cluster, [o for o in objects if o["kind"] not in ("Namespace", "Service")]
            )
        loading = time.perf_counter() - loading
        lab.settle()
        floors, doctors, bundles, offline = [], [], [], []
        archive = Path(workdir) / "bench-bundle.tar.gz"
        for _ in range(args.rounds):
            floors.append(floor_seconds(lab))
            doctors.append(gdoctor_seconds(lab))
            bundles.append(bundle_seconds(lab, archive))
            offline.append(offline_process(archive))
        wall, peak_mib = gdoctor_process(lab)
        archive_kib = archive.stat().st_size // 1024
        if args.keep_bundle is not None:
            shutil.copyfile(archive, args.keep_bundle)
    floor, doctor = min(floors), min(doctors)
    rows = [
        ("exported services per cluster", f"{args.services} (x3 clusters, 5 objects each)"),
        (
            f"floor: raw-JSON LIST of the same kinds, best of {args.rounds}",
            f"{floor * 1000:.0f} ms",
        ),
        (f"gdoctor check --all, read to report, best of {args.rounds}", f"{doctor * 1000:.0f} ms"),
        ("ratio gdoctor / floor (target <= 2.0)", f"{doctor / floor:.2f}"),
        ("gdoctor check --all as a process (imports included)", f"{wall * 1000:.0f} ms"),
        ("peak RSS of that process", f"{peak_mib} MiB"),
        (
            "median of the rounds, floor / gdoctor",
            f"{statistics.median(floors) * 1000:.0f} / {statistics.median(doctors) * 1000:.0f} ms",
        ),
        (
            f"gdoctor bundle (all checks), read to archive, best of {args.rounds}",
            f"{min(bundles) * 1000:.0f} ms",
        ),
        ("ratio bundle / floor (target <= 2.0)", f"{min(bundles) / floor:.2f}"),
        ("bundle archive size", f"{archive_kib} KiB"),
        (
            f"offline check --all --bundle as a process, entry to exit, best of {args.rounds}",
            f"{min(offline) * 1000:.0f} ms",
        ),
        ("loading the lab (not measured against the target)", f"{loading:.1f} s"),
    ]
    table = "| what | result |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    print(table)
    print(json.dumps({"floor_ms": floor * 1000, "gdoctor_ms": doctor * 1000}))
    if args.write:
        text = DOCS.read_text()
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        stamp = time.strftime("%Y-%m-%d")
        DOCS.write_text(f"{head}{BEGIN}\nMeasured {stamp}.\n\n{table}{END}{tail}")


if __name__ == "__main__":
    main()
