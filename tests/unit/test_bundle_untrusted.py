"""Untrusted bundles: every kind of bad archive is a clear error and nothing is written."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor import bundle as bundle_module
from globalnet_doctor.bundle import FORMAT_VERSION, BundleError, read_bundle


def manifest_for(members: dict[str, bytes], version: int = FORMAT_VERSION) -> bytes:
    return json.dumps(
        {
            "formatVersion": version,
            "clusters": [],
            "members": [
                {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                for n, d in members.items()
            ],
        }
    ).encode()


def archive(path, entries):
    """entries: (TarInfo fields, data) pairs, written as given (no safety)."""
    with tarfile.open(path, "w:gz") as tar:
        for fields, data in entries:
            info = tarfile.TarInfo(fields.pop("name"))
            for key, value in fields.items():
                setattr(info, key, value)
            if info.isfile():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def good_entries(extra=()):
    report = b'{"schemaVersion": 1}'
    members = {"report.json": report}
    return [
        ({"name": "manifest.json"}, manifest_for(members)),
        ({"name": "report.json"}, report),
        *extra,
    ]


def test_a_well_formed_bundle_reads(tmp_path):
    found = read_bundle(archive(tmp_path / "b.tar.gz", good_entries()))
    assert found.json("report.json") == {"schemaVersion": 1}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([({"name": "../escape.json"}, b"x")], "unsafe member path"),
        ([({"name": "/etc/passwd"}, b"x")], "unsafe member path"),
        (
            [({"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, b"")],
            "only regular files",
        ),
        (
            [({"name": "hard", "type": tarfile.LNKTYPE, "linkname": "report.json"}, b"")],
            "only regular files",
        ),
        (
            [({"name": "dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, b"")],
            "only regular files",
        ),
        ([({"name": "../dir", "type": tarfile.DIRTYPE}, b"")], "unsafe member path"),
        ([({"name": "extra.json"}, b"{}")], "does not match its manifest"),
    ],
    ids=["traversal", "absolute", "symlink", "hardlink", "device", "directory-outside", "unlisted"],
)
def test_unsafe_members_are_refused(tmp_path, entries, message):
    with pytest.raises(BundleError, match=message):
        read_bundle(archive(tmp_path / "b.tar.gz", good_entries(entries)))


def test_a_member_whose_bytes_changed_fails_its_hash(tmp_path):
    report = b'{"schemaVersion": 1}'
    entries = [
        ({"name": "manifest.json"}, manifest_for({"report.json": report})),
        ({"name": "report.json"}, b'{"schemaVersion": 2}'),
    ]
    with pytest.raises(BundleError, match="does not match its hash"):
        read_bundle(archive(tmp_path / "b.tar.gz", entries))


def test_an_unknown_format_version_is_named(tmp_path):
    entries = [({"name": "manifest.json"}, manifest_for({}, version=99))]
    with pytest.raises(BundleError, match="unknown bundle format version 99"):
        read_bundle(archive(tmp_path / "b.tar.gz", entries))


def test_a_size_bomb_stops_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES", 1024 * 1024)
    bomb = bytes(4 * 1024 * 1024)  # compresses to a few kilobytes
    path = archive(tmp_path / "b.tar.gz", good_entries([({"name": "zeros"}, bomb)]))
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(BundleError, match="too large"):
        read_bundle(path)


def test_truncated_and_corrupt_archives(tmp_path):
    whole = archive(tmp_path / "b.tar.gz", good_entries()).read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BundleError, match=r"truncated|corrupt|not a gdoctor bundle"):
        read_bundle(truncated)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not an archive")
    with pytest.raises(BundleError, match="not a gdoctor bundle"):
        read_bundle(garbage)
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(gzip.compress(b"not a tar stream either" * 100))
    with pytest.raises(BundleError):
        read_bundle(plain)
    with pytest.raises(BundleError, match=r"has no manifest\.json"):
        read_bundle(archive(tmp_path / "nomanifest.tar.gz", [({"name": "report.json"}, b"{}")]))


def test_the_cli_says_so_in_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = archive(tmp_path / "evil.tar.gz", good_entries([({"name": "../escape"}, b"x")]))
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    run = gdoctor("check", "--all", "--bundle", str(path))
    assert run.code == 2
    assert run.stderr.startswith("gdoctor: error: cannot use bundle ")
    assert "unsafe member path" in run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]
    missing = gdoctor("check", "--all", "--bundle", str(tmp_path / "none.tar.gz"))
    assert (missing.code, "does not exist" in missing.stderr) == (2, True)


def test_a_bundle_repacked_by_gnu_tar_from_its_folder_reads(tmp_path):
    """`tar czf x.tgz -C dir .` writes `./`, `./clusters/` and `./manifest.json` entries."""
    original = read_bundle(archive(tmp_path / "b.tar.gz", good_entries()))
    unpacked = tmp_path / "unpacked"
    (unpacked / "sub").mkdir(parents=True)
    for name, data in [
        ("manifest.json", manifest_for(original.members)),
        *original.members.items(),
    ]:
        (unpacked / name).write_bytes(data)
    repacked = tmp_path / "x.tgz"
    subprocess.run(["tar", "czf", str(repacked), "-C", str(unpacked), "."], check=True)
    assert read_bundle(repacked).members == original.members


def test_a_long_name_record_declaring_a_gigabyte_is_refused_before_it_is_read(tmp_path):
    header = bytearray(512)
    header[0:13] = b"././@LongLink"
    header[100:108] = b"0000644\0"
    header[124:136] = b"%011o\0" % (1 << 30)
    header[156:157] = b"L"
    header[257:263] = b"ustar "
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(gzip.compress(bytes(header) + b"a" * 4096))
    with pytest.raises(BundleError, match="declares 1073741824 bytes"):
        read_bundle(path)
