"""Property-based tests of the readers of untrusted input: whatever the bytes, a reader gives a
result or its clean error, never anything else.

Inputs are well-formed documents with a few random edits (a value replaced by one of another
type, a key removed) and raw bytes or text: cheap to generate, so ten thousand examples per
reader fit in CI's budget, and close enough to the real shapes to reach past the first check.

The number of examples per reader comes from the Hypothesis profile: `ci` (10,000, derandomized:
the same examples every run; tests/run.sh selects it with GDOCTOR_HYPOTHESIS=ci), `dev` (300,
the default), or `deep` (100,000, on demand: GDOCTOR_HYPOTHESIS=deep).
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from globalnet_doctor.bundle import BundleError, read_bundle, read_bundle_from
from globalnet_doctor.diffing import Side, diff_sides, validated_report
from globalnet_doctor.errors import UsageError
from globalnet_doctor.host_view import parse_resolv_conf, parse_sysctl_file, persisted_value
from globalnet_doctor.kubeconfig import resolve_targets

PROFILE = os.environ.get("GDOCTOR_HYPOTHESIS", "dev")
EXAMPLES = {"dev": 300, "ci": 10_000, "deep": 100_000}[PROFILE]
_COMMON: dict[str, Any] = {"deadline": None, "suppress_health_check": list(HealthCheck)}
settings.register_profile("run", max_examples=EXAMPLES, derandomize=PROFILE == "ci", **_COMMON)
settings.load_profile("run")


def split(share: float) -> Any:
    """A reader tested by several properties shares its examples among them."""
    return settings(max_examples=max(1, int(EXAMPLES * share)))


def _memory_backed() -> str | None:
    """/dev/shm where there is one: thousands of small files are no disk's business."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


SCRATCH = Path(tempfile.mkdtemp(prefix="gdoctor-properties-", dir=_memory_backed()))

ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        2**70,
        1.5,
        float("nan"),
        "",
        "x",
        "\x1b[2J",
        [],
        {},
        [1],
        {"a": 1},
        "pass",
        "error",
        "GD101",
        "member1",
        "../x",
        "1e999",
    ]
)
Edit = tuple[int, Any, bool]
edits = st.lists(st.tuples(st.integers(min_value=0), ODD_VALUES, st.booleans()), max_size=4)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, (*prefix, index))


def edited(document: Any, changes: list[Edit]) -> Any:
    """``document`` with each change applied: the value at a path replaced, or removed."""
    result = copy.deepcopy(document)
    for where, odd, remove in changes:
        value = copy.deepcopy(odd)  # the strategy hands out one list object: never share it
        paths = list(_paths(result))
        path = paths[where % len(paths)]
        if not path:
            result = value
            continue
        parent = result
        for step in path[:-1]:
            parent = parent[step]
        if remove and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return result


# -- bundles ------------------------------------------------------------------------------------


def _small_bundle() -> dict[str, Any]:
    """A few members of the shipped demo bundle: every kind of member, small enough to edit."""
    demo = read_bundle(Path(str(files("globalnet_doctor") / "demo" / "field-report.tar.gz")))
    wanted = ["clusters/member1/cluster.json", "clusters/member1/probes.json", "host/host.json"]
    reads = sorted(m for m in demo.members if m.startswith("clusters/member1/reads/"))[:3]
    members = {name: demo.json(name) for name in [*wanted, *reads]}
    manifest = {k: v for k, v in demo.manifest.items() if k != "members"}
    return {"manifest": {**manifest, "clusters": ["member1"]}, "members": members}


SMALL_BUNDLE = _small_bundle()


def archive(manifest: Any, members: dict[str, bytes]) -> bytes:
    if isinstance(manifest, dict):
        manifest = {
            **manifest,
            "members": [
                {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                for n, d in members.items()
            ],
        }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1)


def read_all(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        bundle = read_bundle_from(io.BytesIO(data), Path("bundle.tar.gz"))
        bundle.views()
        for name in bundle.members:
            if name.endswith(".json"):
                bundle.json(name)
        if "host/host.json" in bundle.members:
            from globalnet_doctor.host_view import host_view_from_dict

            with contextlib.suppress(ValueError):
                host_view_from_dict(bundle.json("host/host.json"))


@split(0.3)
@given(st.binary(max_size=2048))
def test_the_bundle_reader_on_any_bytes(data: bytes) -> None:
    read_all(data)
    read_all(gzip.compress(data, compresslevel=1))


@split(0.5)
@given(edits, st.sampled_from(sorted(SMALL_BUNDLE["members"])))
def test_the_bundle_reader_on_edited_members(changes: list[Edit], member: str) -> None:
    members = {n: json.dumps(v).encode() for n, v in SMALL_BUNDLE["members"].items()}
    members[member] = json.dumps(edited(SMALL_BUNDLE["members"][member], changes)).encode()
    read_all(archive(SMALL_BUNDLE["manifest"], members))


@split(0.2)
@given(edits)
def test_the_bundle_reader_on_edited_manifests(changes: list[Edit]) -> None:
    members = {n: json.dumps(v).encode() for n, v in SMALL_BUNDLE["members"].items()}
    read_all(archive(edited(SMALL_BUNDLE["manifest"], changes), members))


# -- reports given to diff ----------------------------------------------------------------------

GOOD_REPORT = {
    "schemaVersion": 1,
    "clusters": [{"name": "member1", "reachable": True, "error": None}],
    "results": [
        {
            "check": "GD101",
            "cluster": "member1",
            "status": "fail",
            "skipReason": None,
            "findings": [
                {
                    "severity": "error",
                    "message": "ipvs",
                    "resources": [
                        {"cluster": "member1", "kind": "ConfigMap", "namespace": "a", "name": "b"}
                    ],
                    "evidence": {"mode": "ipvs"},
                    "relatedClusters": ["member2"],
                }
            ],
        },
        {"check": "GD201", "cluster": "member2", "status": "error", "error": "x"},
    ],
}


def side_of(report: Any) -> Side | None:
    try:
        checked = validated_report(report, Path("r.json"))
    except UsageError:
        return None
    return Side(checked, {c["name"]: "x" for c in checked["clusters"] if not c["reachable"]})


@given(edits, edits)
def test_the_report_reader_of_diff_on_edited_reports(old: list[Edit], new: list[Edit]) -> None:
    before, after = side_of(edited(GOOD_REPORT, old)), side_of(edited(GOOD_REPORT, new))
    if before is not None and after is not None:
        diff_sides(before, after)


# -- kubeconfigs --------------------------------------------------------------------------------

GOOD_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
}


def resolve(text: str, contexts: tuple[str, ...]) -> None:
    path = SCRATCH / "kubeconfig"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(UsageError):
        resolve_targets(str(path), contexts)


@split(0.6)
@given(edits, st.lists(st.sampled_from(["a", "b", ""]), max_size=2))
def test_the_kubeconfig_loader_on_edited_kubeconfigs(
    changes: list[Edit], contexts: list[str]
) -> None:
    resolve(json.dumps(edited(GOOD_KUBECONFIG, changes)), tuple(contexts))


@split(0.4)
@given(st.text(max_size=300))
def test_the_kubeconfig_loader_on_any_text(text: str) -> None:
    resolve(text, ())


# -- the machine's files ------------------------------------------------------------------------


@given(st.text(max_size=600))
def test_the_resolv_conf_parser_on_any_text(text: str) -> None:
    parse_resolv_conf("/etc/resolv.conf", text)


@given(st.text(max_size=600), st.text(max_size=40))
def test_the_sysctl_parser_on_any_text(text: str, key: str) -> None:
    assignments = parse_sysctl_file("/etc/sysctl.d/99.conf", text)
    persisted_value(assignments, key)
