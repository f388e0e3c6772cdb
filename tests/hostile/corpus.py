"""A corpus of hostile and malformed inputs: bundles, reports, kubeconfigs, gdoctor.toml files.

Each case is made by code here (no hand-edited blobs), into a folder the caller gives, and says
the gdoctor command to run on it, the exit code expected and a piece of the one-line message.
Add a case for every way of breaking gdoctor that is found: the corpus only grows.

    python tests/hostile/corpus.py OUT_DIR     # writes every case's input files there
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

DEMO = Path(str(files("globalnet_doctor") / "demo" / "field-report.tar.gz"))
MIB = 1024 * 1024
DEEP = 100_000
"""Nesting depth that exceeds any recursive parser's stack."""

Args = list[str]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Args]
    """Writes the input into the folder; returns the gdoctor arguments that use it."""
    code: int
    says: str
    """A piece of the one line on stderr (empty when the command must succeed)."""


# -- bundles ------------------------------------------------------------------------------------


def manifest(members: dict[str, bytes], **fields: Any) -> bytes:
    listed = [
        {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in members.items()
    ]
    document = {"formatVersion": 1, "clusters": [], "members": listed, **fields}
    return json.dumps(document).encode()


def tar_gz(entries: Iterable[tuple[str, bytes]], level: int = 6) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=level)


def bundle(members: dict[str, bytes], **fields: Any) -> bytes:
    return tar_gz([("manifest.json", manifest(members, **fields)), *members.items()])


def demo_members() -> tuple[dict[str, Any], dict[str, bytes]]:
    """The demo bundle's manifest and members, to edit into a hostile variant."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from globalnet_doctor.bundle import read_bundle

    found = read_bundle(DEMO)
    return dict(found.manifest), dict(found.members)


def demo_variant(change: Callable[[dict[str, Any], dict[str, bytes]], None]) -> bytes:
    fields, members = demo_members()
    change(fields, members)
    kept = {k: v for k, v in fields.items() if k not in ("formatVersion", "members")}
    return bundle(members, **kept)


def header(name: bytes, size: int, kind: bytes) -> bytes:
    """One ustar header block with a correct checksum, declaring whatever it is told."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[124:136] = b"%011o\0" % size
    block[156:157] = kind
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def check_bundle(data: bytes) -> Callable[[Path], Args]:
    def make(folder: Path) -> Args:
        path = folder / "bundle.tar.gz"
        path.write_bytes(data)
        return ["check", "--all", "--bundle", str(path)]

    return make


def check_bundle_made(build: Callable[[], bytes]) -> Callable[[Path], Args]:
    def make(folder: Path) -> Args:
        return check_bundle(build())(folder)

    return make


def nested(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def member_bomb() -> bytes:
    """A small archive whose one JSON member decodes into millions of tiny lists."""
    body = b"[" + b"[]," * (10 * MIB) + b"[]]"
    return bundle({"clusters/member1/reads/pods.json": body}, clusters=["member1"])


def many_large_members() -> bytes:
    """Members within the one-member limit whose sum is past the total."""
    zeros = b"0" * (30 * MIB)
    entries = [(f"m{i}.json", zeros) for i in range(5)]
    return tar_gz(entries, level=1)


def long_name_bomb(kind: bytes) -> bytes:
    record = header(b"././@LongLink", 1 << 30, kind)
    return gzip.compress(record + b"a" * 4096)


def gzip_bomb() -> bytes:
    """Zeros that inflate past the total limit (never a tar member: they read as the end)."""
    return gzip.compress(header(b"big.json", 200 * MIB, b"0") + bytes(200 * MIB), 1)


def bundle_with(*flags: str) -> Callable[[Path], Args]:
    def make(folder: Path) -> Args:
        return [*check_bundle(DEMO.read_bytes())(folder), *flags]

    return make


def large_bundle() -> bytes:
    """The demo bundle with the benchmark's 2,000 exported services per cluster added to what
    it read (10,000 objects a cluster, as a controller leaves them): legitimate, and large."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_check_all import exported_services
    from views_from_objects import answering

    from globalnet_doctor.bundle import BundleWriter, read_bundle
    from globalnet_doctor.view import ReadAnswer

    demo = read_bundle(DEMO)
    views = demo.views()
    for view in views:
        added = exported_services(view.name, 2000)
        for read, answer in list(view.answers.items()):
            extra = answering(read, added)
            if extra:
                objects = (*answer.objects, *extra)
                view.answers[read] = ReadAnswer(
                    objects, answer.unavailable, answer.failed, answer.api_version
                )
    writer = BundleWriter()
    writer.add_views(views)
    for name, data in demo.members.items():
        if not name.startswith("clusters/"):
            writer.members[name] = data
    recorded = {
        k: v
        for k, v in demo.manifest.items()
        if k in ("clusters", "settings", "hostMode", "probes", "named", "checks")
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.tar.gz"
        writer.write(path, datetime.now(UTC), recorded)
        return path.read_bytes()


def repacked_from_folder(folder: Path) -> Args:
    """The demo bundle unpacked and packed again by GNU tar from its folder (./ entries)."""
    import subprocess

    fields, members = demo_members()
    unpacked = folder / "unpacked"
    for name, data in [("manifest.json", manifest(members, **_kept(fields))), *members.items()]:
        target = unpacked / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    path = folder / "repacked.tgz"
    subprocess.run(["tar", "czf", str(path), "-C", str(unpacked), "."], check=True)
    return ["check", "--all", "--bundle", str(path), "-o", "json"]


def _kept(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in ("formatVersion", "members")}


def _set_manifest(**values: Any) -> Callable[[dict[str, Any], dict[str, bytes]], None]:
    def change(fields: dict[str, Any], _members: dict[str, bytes]) -> None:
        fields.update(values)

    return change


def _set_member(name: str, data: bytes) -> Callable[[dict[str, Any], dict[str, bytes]], None]:
    def change(_fields: dict[str, Any], members: dict[str, bytes]) -> None:
        members[name] = data

    return change


def _first_read(edit: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def change(_fields: dict[str, Any], members: dict[str, bytes]) -> None:
        name = min(m for m in members if m.startswith("clusters/member1/reads/"))
        entry = json.loads(members[name])
        edit(entry)
        members[name] = json.dumps(entry).encode()

    return change


def _host(edit: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def change(_fields: dict[str, Any], members: dict[str, bytes]) -> None:
        host = json.loads(members["host/host.json"])
        edit(host)
        members["host/host.json"] = json.dumps(host).encode()

    return change


def _raw_manifest(document: bytes) -> bytes:
    return tar_gz([("manifest.json", document)])


# -- reports given to `gdoctor diff` ------------------------------------------------------------


def diff_reports(old: Any, new: Any, name: str = "new.json") -> Callable[[Path], Args]:
    def make(folder: Path) -> Args:
        paths = []
        for file_name, report in (("old.json", old), (name, new)):
            path = folder / file_name
            text = report if isinstance(report, bytes) else json.dumps(report).encode()
            path.write_bytes(text)
            paths.append(str(path))
        return ["diff", *paths]

    return make


GOOD_REPORT = {
    "schemaVersion": 1,
    "clusters": [{"name": "member1", "reachable": True}],
    "results": [{"check": "GD101", "cluster": "member1", "status": "pass", "findings": []}],
}


def report_with(**changes: Any) -> dict[str, Any]:
    return {**GOOD_REPORT, **changes}


# -- kubeconfigs and gdoctor.toml ---------------------------------------------------------------


def with_kubeconfig(text: bytes | str, *extra: str) -> Callable[[Path], Args]:
    def make(folder: Path) -> Args:
        path = folder / "kubeconfig"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return ["check", "GD101", "--no-host", "--kubeconfig", str(path), *extra]

    return make


def with_config(text: str) -> Callable[[Path], Args]:
    def make(folder: Path) -> Args:
        path = folder / "gdoctor.toml"
        path.write_text(text)
        return [
            "check",
            "GD101",
            "--no-host",
            "--config",
            str(path),
            "--kubeconfig",
            "/nonexistent",
        ]

    return make


def kubeconfig_directory(folder: Path) -> Args:
    (folder / "kube").mkdir()
    return ["check", "--all", "--kubeconfig", str(folder / "kube")]


STALE_AND_DEAD = """
contexts:
- {name: stale, context: {cluster: gone, user: u}}
- {name: dead, context: {cluster: dead, user: u}}
clusters:
- {name: gone, cluster: {}}
- {name: dead, cluster: {server: "https://127.0.0.1:9"}}
users: [{name: u, user: {token: t}}]
"""


CASES: list[Case] = [
    # Archives that declare or expand into more than they are.
    Case(
        "gnu-long-name-of-a-gibibyte",
        check_bundle_made(lambda: long_name_bomb(b"L")),
        2,
        "declares 1073741824 bytes",
    ),
    Case(
        "pax-header-of-a-gibibyte",
        check_bundle_made(lambda: long_name_bomb(b"x")),
        2,
        "declares 1073741824 bytes",
    ),
    Case("members-past-the-total", check_bundle_made(many_large_members), 2, "is too large"),
    Case("gzip-expanding-past-the-total", check_bundle_made(gzip_bomb), 2, "too large"),
    Case(
        "member-decoding-into-millions-of-lists",
        check_bundle_made(member_bomb),
        2,
        "of memory once decoded",
    ),
    # Archives that are not what they say.
    Case("not-gzip", check_bundle(b"plain text, not an archive"), 2, "not a gdoctor bundle"),
    Case("empty-file", check_bundle(b""), 2, "bundle"),
    Case(
        "truncated",
        check_bundle_made(lambda: demo_variant(lambda f, m: None)[:5000]),
        2,
        "truncated",
    ),
    Case(
        "corrupt-header-checksum",
        check_bundle(
            gzip.compress(
                header(b"a.json", 1, b"0")[:148]
                + b"9" * 8
                + header(b"a.json", 1, b"0")[156:]
                + b"x" * 512
            )
        ),
        2,
        "checksum",
    ),
    Case(
        "symlink-member",
        check_bundle(gzip.compress(header(b"link", 0, b"2") + bytes(1024))),
        2,
        "only regular files",
    ),
    Case(
        "device-member",
        check_bundle(gzip.compress(header(b"dev", 0, b"3") + bytes(1024))),
        2,
        "only regular files",
    ),
    Case(
        "path-traversal",
        check_bundle_made(lambda: tar_gz([("../x.json", b"{}")])),
        2,
        "unsafe member path",
    ),
    Case(
        "absolute-path",
        check_bundle_made(lambda: tar_gz([("/etc/x.json", b"{}")])),
        2,
        "unsafe member path",
    ),
    Case(
        "control-characters-in-a-name",
        check_bundle_made(lambda: tar_gz([("a\x1b[2J\r\nb.json", b"{}")])),
        2,
        "unsafe member path",
    ),
    Case(
        "member-changed-after-hashing",
        check_bundle_made(
            lambda: tar_gz(
                [("manifest.json", manifest({"report.json": b"{}"})), ("report.json", b"[]")]
            )
        ),
        2,
        "does not match its hash",
    ),
    Case(
        "member-twice",
        check_bundle_made(lambda: tar_gz([("a.json", b"{}"), ("a.json", b"{}")])),
        2,
        "appears twice",
    ),
    # Manifests of the wrong shape.
    Case(
        "manifest-nested-too-deeply",
        check_bundle_made(lambda: _raw_manifest(nested())),
        2,
        "nested too deeply",
    ),
    Case(
        "manifest-not-json",
        check_bundle_made(lambda: _raw_manifest(b"{not json")),
        2,
        "not valid JSON",
    ),
    Case(
        "manifest-clusters-a-number",
        check_bundle_made(lambda: demo_variant(_set_manifest(clusters=5))),
        2,
        "manifest.json.clusters must be a list",
    ),
    Case(
        "manifest-members-a-number",
        check_bundle_made(lambda: _raw_manifest(b'{"formatVersion": 1, "members": 5}')),
        2,
        "manifest.json.members must be a list",
    ),
    Case(
        "manifest-member-without-path",
        check_bundle_made(
            lambda: _raw_manifest(b'{"formatVersion": 1, "members": [{"sha256": "0"}]}')
        ),
        2,
        "members[0] has no path",
    ),
    Case(
        "manifest-bogus-host-mode",
        check_bundle_made(lambda: demo_variant(_set_manifest(hostMode="sometimes"))),
        2,
        "hostMode is not one of",
    ),
    Case(
        "manifest-settings-of-the-wrong-type",
        check_bundle_made(lambda: demo_variant(_set_manifest(settings={"request_timeout": "x"}))),
        2,
        "request_timeout must be a float",
    ),
    Case(
        "manifest-unknown-format-version",
        check_bundle_made(lambda: _raw_manifest(b'{"formatVersion": 99, "members": []}')),
        2,
        "unknown bundle format version 99",
    ),
    # Members of the wrong shape.
    Case(
        "read-answer-a-list",
        check_bundle_made(lambda: demo_variant(_first_read(lambda e: e.update(answer=[])))),
        2,
        "answer must be an object",
    ),
    Case(
        "read-objects-are-strings",
        check_bundle_made(
            lambda: demo_variant(_first_read(lambda e: e["answer"].update(objects=["a", "b"])))
        ),
        2,
        "objects[0] must be an object",
    ),
    Case(
        "read-object-without-metadata",
        check_bundle_made(
            lambda: demo_variant(
                _first_read(lambda e: e["answer"].update(objects=[{"kind": "Pod"}]))
            )
        ),
        2,
        "metadata must be an object",
    ),
    Case(
        "read-object-labels-not-strings",
        check_bundle_made(
            lambda: demo_variant(
                _first_read(
                    lambda e: e["answer"].update(
                        objects=[{"metadata": {"name": "x", "labels": {"a": 5}}}]
                    )
                )
            )
        ),
        2,
        "metadata.labels must hold strings",
    ),
    Case(
        "read-member-nested-too-deeply",
        check_bundle_made(
            lambda: demo_variant(_set_member("clusters/member1/reads/zz.json", nested()))
        ),
        2,
        "nested too deeply",
    ),
    Case(
        "cluster-json-a-list",
        check_bundle_made(
            lambda: demo_variant(_set_member("clusters/member1/cluster.json", b"[]"))
        ),
        2,
        "cluster.json must be an object",
    ),
    Case(
        "host-json-a-list",
        check_bundle_made(lambda: demo_variant(_set_member("host/host.json", b"[1, 2]"))),
        2,
        "host/host.json in the bundle is malformed",
    ),
    Case(
        "probes-json-an-object",
        check_bundle_made(lambda: demo_variant(_set_member("clusters/member1/probes.json", b"{}"))),
        2,
        "probes.json must be a list",
    ),
    # Flags that would be silently ignored with --bundle.
    *(
        Case(
            f"bundle-with-{flag.lstrip('-')}",
            bundle_with(flag, *value),
            2,
            f"{shown} cannot be used with --bundle",
        )
        for flag, value, shown in [
            ("--kubeconfig", ["/x"], "--kubeconfig"),
            ("--in-cluster", [], "--in-cluster"),
            ("--config", ["/x"], "--config"),
            ("--no-host", [], "--host/--no-host"),
            ("--probes", [], "--probes"),
            ("--broker-context", ["b"], "--broker-context"),
        ]
    ),
    Case(
        "bundle-with-an-unknown-context",
        bundle_with("--context", "nope"),
        2,
        "unknown context nope (the bundle recorded: member1, member2, member3)",
    ),
    Case("bundle-with-a-recorded-context", bundle_with("--context", "member2"), 1, ""),
    # What must still work.
    Case("the-demo-bundle", check_bundle(DEMO.read_bytes()), 1, ""),
    Case("large-bundle-of-2000-exports-per-cluster", check_bundle_made(large_bundle), 1, ""),
    Case("repacked-by-gnu-tar-from-its-folder", repacked_from_folder, 1, ""),
    # Reports given to diff.
    Case(
        "diff-report-without-check",
        diff_reports(GOOD_REPORT, report_with(results=[{"cluster": "a", "status": "pass"}])),
        2,
        "has no check",
    ),
    Case(
        "diff-results-a-number",
        diff_reports(GOOD_REPORT, report_with(results=5)),
        2,
        "results must be a list",
    ),
    Case(
        "diff-finding-without-message",
        diff_reports(
            GOOD_REPORT,
            report_with(
                results=[
                    {
                        "check": "GD1",
                        "cluster": "a",
                        "status": "fail",
                        "findings": [{"severity": "e"}],
                    }
                ]
            ),
        ),
        2,
        "has no message",
    ),
    Case(
        "diff-resource-without-kind",
        diff_reports(
            GOOD_REPORT,
            report_with(
                results=[
                    {
                        "check": "GD1",
                        "cluster": "a",
                        "status": "fail",
                        "findings": [
                            {"message": "m", "severity": "e", "resources": [{"name": "x"}]}
                        ],
                    }
                ]
            ),
        ),
        2,
        "has no kind",
    ),
    Case(
        "diff-report-nested-too-deeply", diff_reports(GOOD_REPORT, nested()), 2, "nested too deeply"
    ),
    Case("diff-report-not-named-json", diff_reports(GOOD_REPORT, GOOD_REPORT, "new.out"), 0, ""),
    Case(
        "diff-of-a-directory",
        lambda folder: ["diff", str(folder), str(folder)],
        2,
        "is a directory",
    ),
    # Kubeconfigs.
    Case("kubeconfig-a-directory", kubeconfig_directory, 2, "is a directory"),
    Case(
        "kubeconfig-nested-too-deeply",
        with_kubeconfig("a: " + "[" * 5000 + "]" * 5000),
        2,
        "nested too deeply",
    ),
    Case("kubeconfig-binary", with_kubeconfig(bytes(range(256)) * 4), 2, "kubeconfig"),
    Case(
        "kubeconfig-contexts-a-string",
        with_kubeconfig("contexts: nope\n"),
        2,
        "is not a kubeconfig",
    ),
    Case("kubeconfig-stale-context-skipped", with_kubeconfig(STALE_AND_DEAD), 3, ""),
    Case(
        "kubeconfig-stale-context-selected",
        with_kubeconfig(STALE_AND_DEAD, "--context", "stale"),
        2,
        "has no server",
    ),
    # gdoctor.toml.
    Case(
        "config-negative-timeout",
        with_config("[site]\nrequest_timeout = -5\n"),
        2,
        "must be a finite number of seconds",
    ),
    Case(
        "config-nan-timeout",
        with_config("[site]\nrequest_timeout = nan\n"),
        2,
        "must be a finite number of seconds",
    ),
    Case(
        "config-infinite-check-timeout",
        with_config("[site]\ncheck_timeout = inf\n"),
        2,
        "must be a finite number of seconds",
    ),
    Case("config-site-not-a-table", with_config("site = 5\n"), 2, "[site] must be a table"),
    Case(
        "config-nested-too-deeply",
        with_config("a = " + "[" * 5000 + "]" * 5000 + "\n"),
        2,
        "nested too deeply",
    ),
    Case("config-wrong-type", with_config("[site]\nexternal_host = 5\n"), 2, "must be a str"),
]


def main() -> None:
    out = Path(sys.argv[1])
    for case in CASES:
        folder = out / case.name
        folder.mkdir(parents=True, exist_ok=True)
        args = case.make(folder)
        (folder / "command.txt").write_text(
            f"gdoctor {' '.join(args)}\nexit {case.code}; says: {case.says}\n"
        )


if __name__ == "__main__":
    main()
