"""Property-based tests of the readers of untrusted input: whatever the bytes, a reader gives a
result or its clean error, never anything else.

The number of examples per reader comes from the Hypothesis profile: `ci` (10,000, derandomized:
the same examples every run, selected by GDOCTOR_HYPOTHESIS=ci in tests/run.sh), `dev` (200, the
default), or `deep` (100,000, on demand: GDOCTOR_HYPOTHESIS=deep).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from globalnet_doctor.bundle import BundleError, read_bundle_from
from globalnet_doctor.diffing import Side, diff_sides, validated_report
from globalnet_doctor.errors import UsageError
from globalnet_doctor.host_view import parse_resolv_conf, parse_sysctl_file, persisted_value
from globalnet_doctor.kubeconfig import resolve_targets


def _memory_backed() -> str | None:
    """/dev/shm where there is one: thousands of small files, never a disk's business."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", max_examples=200, **_COMMON)
settings.register_profile("ci", max_examples=10_000, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("deep", max_examples=100_000, **_COMMON)
settings.load_profile(os.environ.get("GDOCTOR_HYPOTHESIS", "dev"))

SCRATCH = Path(tempfile.mkdtemp(prefix="gdoctor-properties-", dir=_memory_backed()))
"""One folder for every example's file (Hypothesis runs examples in one test call)."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=8,
)
member_names = st.sampled_from(
    [
        "manifest.json",
        "report.json",
        "clusters/member1/cluster.json",
        "clusters/member1/probes.json",
        "clusters/member1/reads/pods.json",
        "host/host.json",
        "./manifest.json",
        "a/../b.json",
        "/abs.json",
        "x\x1b.json",
    ]
) | st.text(min_size=1, max_size=30)


def tar_gz(entries: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def read_all(data: bytes) -> None:
    try:
        bundle = read_bundle_from(io.BytesIO(data), Path("bundle.tar.gz"))
        bundle.views()
        for name in bundle.members:
            if name.endswith(".json"):
                bundle.json(name)
    except BundleError:
        pass


@given(st.binary(max_size=2048))
def test_the_bundle_reader_on_any_bytes(data: bytes) -> None:
    read_all(data)
    read_all(gzip.compress(data))


@given(st.lists(st.tuples(member_names, json_values), max_size=6), json_values)
def test_the_bundle_reader_on_archives_of_any_json(
    entries: list[tuple[str, Any]], extra: Any
) -> None:
    import hashlib

    members = {name: json.dumps(value).encode() for name, value in entries}
    listed = [
        {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in members.items()
    ]
    manifest = {"formatVersion": 1, "clusters": ["member1"], "members": listed, "extra": extra}
    read_all(tar_gz([("manifest.json", json.dumps(manifest).encode()), *members.items()]))


@given(st.binary(max_size=1024), st.integers(min_value=0, max_value=1023))
def test_the_bundle_reader_on_damaged_archives(noise: bytes, at: int) -> None:
    good = bytearray(tar_gz([("manifest.json", b'{"formatVersion": 1, "members": []}')]))
    position = at % len(good)
    good[position : position + len(noise)] = noise
    read_all(bytes(good))


reports = st.fixed_dictionaries(
    {"schemaVersion": st.just(1) | json_values},
    optional={
        "clusters": st.lists(
            st.fixed_dictionaries({}, optional={"name": json_values, "reachable": json_values})
            | json_values,
            max_size=3,
        ),
        "results": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "check": st.sampled_from(["GD101", "GD201"]) | json_values,
                    "cluster": st.sampled_from(["member1", "host"]) | json_values,
                    "status": st.sampled_from(["pass", "fail", "skip", "error"]) | json_values,
                    "findings": st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "message": st.text(max_size=10) | json_values,
                                "severity": st.text(max_size=5) | json_values,
                                "resources": json_values,
                                "evidence": json_values,
                                "relatedClusters": json_values,
                            },
                        )
                        | json_values,
                        max_size=3,
                    ),
                },
            )
            | json_values,
            max_size=4,
        )
        | json_values,
    },
)


@given(reports, reports)
def test_the_report_reader_of_diff_on_any_json(old: Any, new: Any) -> None:
    sides = []
    for report in (old, new):
        try:
            checked = validated_report(report, Path("r.json"))
        except UsageError:
            return
        unreachable = {c["name"]: "x" for c in checked["clusters"] if not c["reachable"]}
        sides.append(Side(checked, unreachable))
    diff_sides(*sides)


yaml_documents = st.text(max_size=400) | json_values.map(json.dumps)
kubeconfig_like = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.just("Config") | json_values,
        "contexts": st.lists(
            st.fixed_dictionaries({}, optional={"name": json_values, "context": json_values})
            | json_values,
            max_size=3,
        )
        | json_values,
        "clusters": st.lists(
            st.fixed_dictionaries({}, optional={"name": json_values, "cluster": json_values})
            | json_values,
            max_size=3,
        )
        | json_values,
        "users": json_values,
    },
).map(json.dumps)


@given(yaml_documents | kubeconfig_like, st.lists(st.text(max_size=8), max_size=2))
def test_the_kubeconfig_loader_on_any_text(text: str, contexts: list[str]) -> None:
    path = SCRATCH / "kubeconfig"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(UsageError):
        resolve_targets(str(path), tuple(contexts))


@given(st.text(max_size=600))
def test_the_resolv_conf_parser_on_any_text(text: str) -> None:
    parse_resolv_conf("/etc/resolv.conf", text)


@given(st.text(max_size=600), st.text(max_size=40))
def test_the_sysctl_parser_on_any_text(text: str, key: str) -> None:
    assignments = parse_sysctl_file("/etc/sysctl.d/99.conf", text)
    persisted_value(assignments, key)
