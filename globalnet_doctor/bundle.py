"""Support bundles: what a run read (and probed), its report and log, in one archive that
gdoctor can analyse again offline, giving the same results.

Layout and rules: docs/bundle.md. Reading treats the archive as untrusted: nothing is
extracted to disk; members are checked for type, path, size and hash before use.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from globalnet_doctor import __version__
from globalnet_doctor.gcpause import gc_paused
from globalnet_doctor.kinds import DryRunCreate, Kind, Read
from globalnet_doctor.redact import Redactions, scrub, scrub_text
from globalnet_doctor.shapes import ANY, MapOf, ShapeError, check
from globalnet_doctor.terminal import printable
from globalnet_doctor.view import ClusterView, ProbeAnswer, ReadAnswer

FORMAT_VERSION = 1
NOT_IN_BUNDLE = "not in bundle"
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 96 * 1024 * 1024
MAX_DECODED_BYTES = 200 * 1024 * 1024
"""What the bundle's JSON may take once decoded, as ``decoded_cost`` estimates it: the limit
that keeps a small archive of tiny repeated values from taking gigabytes (the benchmark's
three clusters of 2,000 exports estimate at about 90 MiB)."""
MAX_MEMBERS = 20_000
_MEMBER_NAME = re.compile(r"^[A-Za-z0-9._@+-]+(/[A-Za-z0-9._@+-]+)*$")


class BundleError(Exception):
    """The bundle cannot be used: corrupt, truncated, unsafe or of an unknown format."""


# -- views as JSON --------------------------------------------------------------------------


def read_to_json(read: Read) -> dict[str, Any]:
    return {
        "kind": read.kind.to_json(),
        "namespace": read.namespace,
        "name": read.name,
        "labelSelector": read.label_selector,
    }


def read_from_json(data: dict[str, Any]) -> Read:
    return Read(
        Kind.from_json(data["kind"]),
        data.get("namespace"),
        data.get("name"),
        data.get("labelSelector"),
    )


def probe_to_json(probe: DryRunCreate) -> dict[str, Any]:
    return {
        "kind": probe.kind.to_json(),
        "namespace": probe.namespace,
        "body": probe.body,
        "impersonateUser": probe.impersonate_user,
        "impersonateGroups": list(probe.impersonate_groups),
    }


def probe_from_json(data: dict[str, Any]) -> DryRunCreate:
    return DryRunCreate(
        Kind.from_json(data["kind"]),
        str(data["namespace"]),
        str(data["body"]),
        data.get("impersonateUser"),
        tuple(str(g) for g in data.get("impersonateGroups") or ()),
    )


def view_header(view: ClusterView) -> dict[str, Any]:
    return {
        "name": view.name,
        "server": view.server,
        "observedAt": view.observed_at.isoformat(),
        "reachable": view.reachable,
        "error": view.error,
        "kubernetesVersion": view.kubernetes_version,
    }


def answer_to_json(answer: ReadAnswer) -> dict[str, Any]:
    return {
        "objects": list(answer.objects),
        "unavailable": answer.unavailable,
        "failed": answer.failed,
        "apiVersion": answer.api_version,
    }


def view_from_json(
    header: dict[str, Any], reads: Sequence[dict[str, Any]], probes: Sequence[dict[str, Any]]
) -> ClusterView:
    view = ClusterView(
        name=str(header["name"]),
        server=str(header["server"]),
        observed_at=datetime.fromisoformat(header["observedAt"]),
        reachable=bool(header["reachable"]),
        error=header.get("error"),
        kubernetes_version=header.get("kubernetesVersion"),
        absent_reason=NOT_IN_BUNDLE,
    )
    for entry in reads:
        answer = entry["answer"]
        view.answers[read_from_json(entry["read"])] = ReadAnswer(
            tuple(answer.get("objects") or ()),
            answer.get("unavailable"),
            answer.get("failed"),
            answer.get("apiVersion"),
        )
    for entry in probes:
        answer = entry["answer"]
        view.probe_answers[probe_from_json(entry["probe"])] = ProbeAnswer(
            int(answer["status"]), str(answer.get("message", "")), str(answer.get("reason", ""))
        )
    return view


# -- writing --------------------------------------------------------------------------------


@dataclass
class BundleWriter:
    """Collects members in memory (redacted as they are added), then writes the archive."""

    redactions: Redactions = field(default_factory=Redactions)
    members: dict[str, bytes] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add_json(self, name: str, data: Any, compact: bool = False) -> None:
        """``compact`` for the large members (what was read): one line, written by json's C
        encoder, about five times faster than the indented form kept for the small ones."""
        cleaned = scrub(data, name, self.redactions)
        if compact:
            text = json.dumps(cleaned, sort_keys=True, separators=(",", ":"))
        else:
            text = json.dumps(cleaned, indent=1, sort_keys=True)
        self.members[name] = (text + "\n").encode()

    def add_text(self, name: str, text: str) -> None:
        self.members[name] = scrub_text(text, name, "$", self.redactions).encode()

    def skip(self, what: str, why: str) -> None:
        self.skipped.append({"what": what, "why": why})

    def add_views(self, views: Sequence[ClusterView]) -> None:
        for view in views:
            base = f"clusters/{_safe(view.name)}"
            self.add_json(f"{base}/cluster.json", view_header(view))
            for read, answer in view.answers.items():
                member = f"{base}/reads/{_read_file_name(read)}.json"
                self.add_json(
                    member,
                    {"read": read_to_json(read), "answer": answer_to_json(answer)},
                    compact=True,
                )
                reason = answer.unavailable or answer.failed
                if reason:
                    self.skip(f"{view.name}: {read.describe()}", reason)
            self.add_json(
                f"{base}/probes.json",
                [
                    {
                        "probe": probe_to_json(p),
                        "answer": {"status": a.status, "message": a.message, "reason": a.reason},
                    }
                    for p, a in view.probe_answers.items()
                ],
            )
            if not view.reachable:
                self.skip(f"{view.name}: every read", f"unreachable: {view.error}")

    def write(self, path: Path, collected_at: datetime, extra: dict[str, Any]) -> dict[str, Any]:
        manifest = {
            "formatVersion": FORMAT_VERSION,
            "gdoctorVersion": __version__,
            "collectedAt": collected_at.isoformat(),
            "members": [
                {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in sorted(self.members.items())
            ],
            "skipped": self.skipped,
            "redactions": self.redactions.entries,
            **extra,
        }
        manifest_bytes = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        temporary = path.with_name(path.name + ".partial")
        # Level 6, not tarfile's 9: a few percent larger, several times faster on JSON.
        with tarfile.open(temporary, "w:gz", compresslevel=6) as archive:
            for name, data in [("manifest.json", manifest_bytes), *sorted(self.members.items())]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = int(time.time())
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
        temporary.replace(path)
        return manifest


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", name) or "_"


def _read_file_name(read: Read) -> str:
    parts = [
        read.kind.qualified,
        read.namespace or "",
        read.name or "",
        hashlib.sha256(str(read.label_selector).encode()).hexdigest()[:8]
        if read.label_selector
        else "",
    ]
    return _safe(".".join(p for p in parts if p))


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    manifest: dict[str, Any]
    members: dict[str, bytes]

    def json(self, name: str) -> Any:
        if name not in self.members:
            raise BundleError(f"the bundle has no {printable(name, 200)}")
        return _parse_json(f"{printable(name, 200)} in the bundle", self.members[name])

    def views(self) -> list[ClusterView]:
        with gc_paused():
            return self._views()

    def _views(self) -> list[ClusterView]:
        views = []
        for name in self.manifest.get("clusters", []):
            base = f"clusters/{_safe(name)}"
            reads = [
                self._shaped(m, READ_MEMBER)
                for m in sorted(self.members)
                if m.startswith(f"{base}/reads/")
            ]
            for member, entry in zip(
                (m for m in sorted(self.members) if m.startswith(f"{base}/reads/")),
                reads,
                strict=True,
            ):
                _check_objects(entry["answer"].get("objects") or [], member)
            probes_member = f"{base}/probes.json"
            probes = (
                self._shaped(probes_member, [PROBE_ENTRY]) if probes_member in self.members else []
            )
            header = self._shaped(f"{base}/cluster.json", CLUSTER_MEMBER)
            try:
                views.append(view_from_json(header, reads, probes))
            except (KeyError, TypeError, ValueError) as exc:
                raise BundleError(f"cluster {name} in the bundle is malformed: {exc}") from None
        return views

    def _shaped(self, name: str, shape: Any) -> Any:
        """The member's JSON once it has ``shape``, else a clear error."""
        data = self.json(name)
        try:
            check(data, shape, printable(name, 200))
        except ShapeError as exc:
            raise BundleError(f"the bundle is malformed: {exc}") from None
        return data


_KIND = {"group": str, "resource": str, "kind": str, "namespaced": bool, "versions?": [str]}
_OPTIONAL_TEXT = (str, None)
CLUSTER_MEMBER = {
    "name": str,
    "server": str,
    "observedAt": str,
    "reachable": bool,
    "error?": _OPTIONAL_TEXT,
    "kubernetesVersion?": _OPTIONAL_TEXT,
}
READ_MEMBER = {
    "read": {
        "kind": _KIND,
        "namespace?": _OPTIONAL_TEXT,
        "name?": _OPTIONAL_TEXT,
        "labelSelector?": _OPTIONAL_TEXT,
    },
    "answer": {
        "objects?": ([dict], None),
        "unavailable?": _OPTIONAL_TEXT,
        "failed?": _OPTIONAL_TEXT,
        "apiVersion?": _OPTIONAL_TEXT,
    },
}
PROBE_ENTRY = {
    "probe": {
        "kind": _KIND,
        "namespace": str,
        "body": str,
        "impersonateUser?": _OPTIONAL_TEXT,
        "impersonateGroups?": [str],
    },
    "answer": {"status": int, "message?": str, "reason?": str},
}
MANIFEST = {
    "formatVersion": int,
    "members": [{"path": str, "sha256": str, "size?": int}],
    "clusters?": [str],
    "settings?": MapOf(ANY),
    "hostMode?": str,
    "probes?": bool,
    "named?": [str],
    "skipped?": [{"what": str, "why": str}],
}
_OBJECT_METADATA = {
    "name": str,
    "namespace?": str,
    "labels?": MapOf(str),
    "annotations?": MapOf(str),
}


def _check_objects(objects: list[dict[str, Any]], member: str) -> None:
    """Every recorded object has the metadata checks rely on; written out rather than through
    ``check`` for every object, as a bundle holds tens of thousands of them."""
    for index, obj in enumerate(objects):
        metadata = obj.get("metadata")
        if (
            isinstance(metadata, dict)
            and isinstance(metadata.get("name"), str)
            and isinstance(metadata.get("namespace", ""), str)
            and isinstance(metadata.get("labels", {}), dict)
            and isinstance(metadata.get("annotations", {}), dict)
        ):
            continue
        try:
            check(metadata, _OBJECT_METADATA, f"{printable(member, 200)}: object {index} metadata")
        except ShapeError as exc:
            raise BundleError(f"the bundle is malformed: {exc}") from None
    for index, obj in enumerate(objects):
        metadata = obj["metadata"]
        for key in ("labels", "annotations"):
            values = metadata.get(key) or {}
            if not all(isinstance(v, str) for v in values.values()):
                where = f"{printable(member, 200)}: object {index} metadata.{key}"
                raise BundleError(f"the bundle is malformed: {where} must hold strings")


def read_bundle(path: Path) -> Bundle:
    """Reads and verifies an untrusted bundle entirely in memory.

    The archive is decompressed and its tar headers parsed here, in bounded steps, rather than
    by ``tarfile``: tarfile reads a GNU long name or a PAX header whole, whatever size it
    declares, before any of our limits could apply.
    """
    if path.is_dir():
        raise BundleError(f"{path} is a directory, not a bundle")
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise BundleError(f"{path} does not exist") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        return read_bundle_from(stream, path)


def read_bundle_from(stream: BinaryIO, path: Path) -> Bundle:
    """``read_bundle`` of an open archive; ``path`` names it in errors."""
    members = _read_members(path, _Decompressed(stream, path))
    if "manifest.json" not in members:
        raise BundleError(f"{path} has no manifest.json: not a gdoctor bundle")
    manifest = _parse_json("the bundle's manifest", members.pop("manifest.json"))
    if not isinstance(manifest, dict) or manifest.get("formatVersion") != FORMAT_VERSION:
        version = manifest.get("formatVersion") if isinstance(manifest, dict) else None
        raise BundleError(
            f"unknown bundle format version {printable(repr(version), 40)} "
            f"(this gdoctor reads {FORMAT_VERSION})"
        )
    try:
        check(manifest, MANIFEST, "manifest.json")
    except ShapeError as exc:
        raise BundleError(f"the bundle is malformed: {exc}") from None
    _verify(manifest, members)
    _check_decoded_cost(path, members)
    return Bundle(manifest, members)


def decoded_cost(data: bytes) -> int:
    """A bound, from counts made in C, on the memory ``json.loads(data)`` takes: each object
    and list, each value (one per comma), each string, and the text itself. Measured to exceed
    the real cost for objects, lists, numbers, strings and literals alike."""
    return (
        2 * len(data)
        + 200 * data.count(b"{")
        + 64 * data.count(b"[")
        + 40 * data.count(b",")
        + 16 * data.count(b'"')
    )


def _check_decoded_cost(path: Path, members: dict[str, bytes]) -> None:
    cost = sum(decoded_cost(d) for name, d in members.items() if name.endswith(".json"))
    if cost > MAX_DECODED_BYTES:
        raise BundleError(
            f"{path} would take about {cost // (1024 * 1024)} MiB of memory once decoded "
            f"(at most {MAX_DECODED_BYTES // (1024 * 1024)} MiB): refused"
        )


_BLOCK = 512
_MAX_NAME_BYTES = 4096
"""A GNU long-name record longer than this is refused before it is read."""
_MAX_PAX_BYTES = 64 * 1024
_REGULAR = (b"0", b"\0", b"7")
_DIRECTORY = b"5"
_GNU_LONG_NAME = b"L"
_PAX_HEADERS = (b"x", b"g")


class _Decompressed:
    """The gzip stream of an archive, decompressed on demand and never past a bound: what a
    small archive could expand into is limited before it is held."""

    _CHUNK = 64 * 1024

    def __init__(self, raw: BinaryIO, path: Path) -> None:
        self.raw: BinaryIO | _Prefixed = raw
        self.path = path
        self.buffer = bytearray()
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.produced = 0
        self.limit = MAX_TOTAL_BYTES + (MAX_MEMBERS + 2) * 3 * _BLOCK + 2 * _MAX_PAX_BYTES
        self.ended = False

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes, or fewer only at the end of the archive."""
        while len(self.buffer) < size and not self.ended:
            self._inflate(size - len(self.buffer))
        with memoryview(self.buffer) as view:
            data = bytes(view[:size])  # one copy: slicing the bytearray itself would be two
        del self.buffer[:size]
        return data

    def _inflate(self, wanted: int) -> None:
        pending = self.inflater.unconsumed_tail
        if not pending:
            pending = self.raw.read(self._CHUNK)
            if not pending:
                if not self.inflater.eof:
                    raise BundleError(f"{self.path} is truncated (the gzip stream ends early)")
                self.ended = True
                return
        try:
            out = self.inflater.decompress(pending, max(wanted, self._CHUNK))
        except zlib.error as exc:
            raise BundleError(f"{self.path} is not a gdoctor bundle (a .tar.gz): {exc}") from None
        self.produced += len(out)
        if self.produced > self.limit:
            raise BundleError(
                f"{self.path} expands beyond {MAX_TOTAL_BYTES // (1024 * 1024)} MiB: refused"
            )
        self.buffer += out
        if self.inflater.eof:
            rest = self.inflater.unused_data
            # Concatenated gzip members are one stream to gzip(1): read on with a new one.
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self.raw = _Prefixed(rest, self.raw)
            if not rest:
                self._at_end_of_member()

    def _at_end_of_member(self) -> None:
        """After a gzip member with nothing behind it in the buffer: the end, unless the file
        holds another member."""
        following = self.raw.read(self._CHUNK)
        if not following.strip(b"\0"):
            self.ended = True
        else:
            self.raw = _Prefixed(following, self.raw)


class _Prefixed:
    """A file object read after some bytes already taken from it."""

    def __init__(self, head: bytes, tail: BinaryIO | _Prefixed) -> None:
        self.head, self.tail = head, tail

    def read(self, size: int) -> bytes:
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.tail.read(size)


@dataclass(frozen=True)
class _Header:
    name: str
    size: int
    kind: bytes


def _read_members(path: Path, stream: _Decompressed) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    total = 0
    long_name: str | None = None
    pax: dict[str, str] = {}
    while True:
        header = _next_header(path, stream)
        if header is None:
            break
        if header.kind == _GNU_LONG_NAME:
            long_name = _text(_record(path, stream, header, _MAX_NAME_BYTES)).rstrip("\0")
            continue
        if header.kind in _PAX_HEADERS:
            record = _record(path, stream, header, _MAX_PAX_BYTES)
            if header.kind == b"x":
                pax = _pax_fields(path, record)
            continue
        name = _normalised(pax.get("path", long_name if long_name is not None else header.name))
        size = _pax_size(path, pax, header.size)
        long_name, pax = None, {}
        if header.kind == _DIRECTORY:
            _check_name(name.rstrip("/"), directory=True)
            _skip(path, stream, size + (-size % _BLOCK))
            continue
        if header.kind not in _REGULAR:
            raise BundleError(f"{printable(name, 200)}: only regular files are allowed in a bundle")
        _check_name(name)
        if len(members) >= MAX_MEMBERS:
            raise BundleError(f"{path} has more than {MAX_MEMBERS} members")
        if size > MAX_MEMBER_BYTES or total + size > MAX_TOTAL_BYTES:
            raise BundleError(f"{printable(name, 200)} is too large ({size} bytes)")
        data = stream.read(size)
        if len(data) != size:
            raise BundleError(f"{printable(name, 200)} is truncated")
        _skip(path, stream, -size % _BLOCK)
        total += size
        if name in members:
            raise BundleError(f"{printable(name, 200)} appears twice in the bundle")
        members[name] = data
    return members


def _next_header(path: Path, stream: _Decompressed) -> _Header | None:
    block = stream.read(_BLOCK)
    if not block or block == bytes(_BLOCK):
        return None  # the end-of-archive marker (or an archive ending right after a member)
    if len(block) != _BLOCK:
        raise BundleError(f"{path} is truncated (a tar header is cut short)")
    stored = _octal(block[148:156])
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored is None or stored != computed:
        raise BundleError(f"{path} is corrupt (a tar header's checksum does not match)")
    name = block[:100].split(b"\0", 1)[0]
    if block[257:262] == b"ustar":
        prefix = block[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    size = _octal(block[124:136])
    if size is None:
        # Base-256 sizes (over 8 GiB) and garbage alike: nothing a bundle can hold.
        raise BundleError(f"{path} is corrupt or too large (a tar header declares no size)")
    return _Header(_text(name), size, block[156:157])


def _record(path: Path, stream: _Decompressed, header: _Header, limit: int) -> bytes:
    if header.size > limit:
        raise BundleError(
            f"{path}: a tar header record declares {header.size} bytes (at most {limit}): refused"
        )
    data = stream.read(header.size)
    if len(data) != header.size:
        raise BundleError(f"{path} is truncated")
    _skip(path, stream, -header.size % _BLOCK)
    return data


def _skip(path: Path, stream: _Decompressed, size: int) -> None:
    while size > 0:
        step = min(size, 1024 * 1024)
        if len(stream.read(step)) != step:
            raise BundleError(f"{path} is truncated")
        size -= step


def _octal(field: bytes) -> int | None:
    digits = field.replace(b"\0", b" ").strip()
    if not digits:
        return 0
    try:
        return int(digits, 8)
    except ValueError:
        return None


def _pax_fields(path: Path, record: bytes) -> dict[str, str]:
    """The ``path`` and ``size`` of a PAX extended header (``LEN key=value\\n`` records)."""
    fields: dict[str, str] = {}
    rest = record
    while rest.strip(b"\0"):
        length_text = rest.partition(b" ")[0]
        try:
            length = int(length_text)
        except ValueError:
            raise BundleError(f"{path} is corrupt (a PAX header is malformed)") from None
        entry, rest = rest[:length], rest[length:]
        if length <= len(length_text) or not entry.endswith(b"\n"):
            raise BundleError(f"{path} is corrupt (a PAX header is malformed)")
        key, _, value = entry[len(length_text) + 1 : -1].partition(b"=")
        if key in (b"path", b"size"):
            fields[key.decode("ascii")] = _text(value)
    return fields


def _pax_size(path: Path, pax: dict[str, str], size: int) -> int:
    if "size" not in pax:
        return size
    try:
        return int(pax["size"])
    except ValueError:
        raise BundleError(f"{path} is corrupt (a PAX size is not a number)") from None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _normalised(name: str) -> str:
    """A member name as `tar -C dir .` writes it (``./clusters/...``) read as ours."""
    while name.startswith("./"):
        name = name[2:]
    return name


def _check_name(name: str, directory: bool = False) -> None:
    if directory and name in ("", "."):
        return
    if name.startswith("/") or ".." in name.split("/") or not _MEMBER_NAME.match(name):
        raise BundleError(f"{printable(name, 200)}: unsafe member path")


def _parse_json(what: str, data: bytes) -> Any:
    try:
        with gc_paused():
            return json.loads(data)
    except RecursionError:
        raise BundleError(f"{what} is nested too deeply to be read") from None
    except ValueError as exc:
        raise BundleError(f"{what} is not valid JSON: {exc}") from None


def _verify(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    listed = {m["path"]: m for m in manifest["members"]}
    if set(listed) != set(members):
        missing = sorted(set(listed) - set(members))
        extra = sorted(set(members) - set(listed))
        raise BundleError(
            f"the bundle does not match its manifest (missing {missing}, unlisted {extra})"
        )
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != listed[name].get("sha256"):
            raise BundleError(f"{name} does not match its hash in the manifest")


def collected_now() -> datetime:
    return datetime.now(UTC)
