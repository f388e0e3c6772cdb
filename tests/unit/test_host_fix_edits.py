"""The host fixes' pure edits (resolv.conf, sysctl.d) and the journal's host entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from globalnet_doctor_fixes.gd501_stale_resolv_conf import with_nameserver
from globalnet_doctor_fixes.gd601_rp_filter_strict import with_assignments

from globalnet_doctor.fixspec import FileChange, FileWrite, RouteChange, SysctlChange
from globalnet_doctor.host_view import Route
from globalnet_doctor.journal import Journal, JournalEntry


def test_a_stale_line_is_rewritten_and_every_other_byte_kept() -> None:
    text = "# keep me\nsearch lan\nnameserver  242.0.255.253 # old\r\noptions ndots:2"
    assert with_nameserver(text, "242.0.255.254", ["242.0.255.253"]) == (
        "# keep me\nsearch lan\nnameserver  242.0.255.254 # old\r\noptions ndots:2\n"
    )


def test_later_stale_lines_are_dropped() -> None:
    text = "nameserver 242.0.255.253\nnameserver 10.0.0.1\nnameserver 242.0.255.252\n"
    assert with_nameserver(text, "242.0.255.254", ["242.0.255.253", "242.0.255.252"]) == (
        "nameserver 242.0.255.254\nnameserver 10.0.0.1\n"
    )


def test_without_a_stale_line_the_ip_goes_first_and_an_ignored_copy_is_dropped() -> None:
    text = "search lan\nnameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n"
    text += "nameserver 242.0.255.254\n"
    assert with_nameserver(text, "242.0.255.254", []) == (
        "search lan\nnameserver 242.0.255.254\nnameserver 1.1.1.1\nnameserver 2.2.2.2\n"
        "nameserver 3.3.3.3\n"
    )
    assert with_nameserver("", "242.0.255.254", []) == "nameserver 242.0.255.254\n"


def test_sysctl_lines_are_rewritten_in_place_or_appended() -> None:
    text = "# mine\nnet.ipv4.conf.all.rp_filter=1\nkernel.panic = 10"
    assert with_assignments(
        text, {"net/ipv4/conf/all/rp_filter": "2", "net/ipv4/conf/eth0.100/rp_filter": "2"}
    ) == (
        "# mine\nnet.ipv4.conf.all.rp_filter = 2\nkernel.panic = 10\n"
        "net/ipv4/conf/eth0.100/rp_filter = 2\n"
    )


def test_host_changes_survive_the_journal_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    journal = Journal.create(None, {})
    changes = [
        FileChange("/etc/resolv.conf", "/etc/resolv.conf", b"\xff\x00a\n", b"b\n",
                   FileWrite.IN_PLACE, "why", backup="/x"),
        FileChange("/r/f", "/r/f", None, b"new\n", FileWrite.RENAME, "why"),
        SysctlChange("net/ipv4/conf/all/rp_filter", "/proc/sys/net/ipv4/conf/all/rp_filter",
                     "1", "2", "why"),
        RouteChange("242.0.0.0/8", "172.16.255.183", "ens192", "why",
                    before=Route("242.0.0.0/8", gateway="172.16.255.185", protocol="boot"),
                    advice="persist"),
    ]  # fmt: skip
    for change in changes:
        journal.record("GD501", change).stored = {"netns": "1:2"}
    journal.save()
    loaded = Journal.load(journal.run_id)
    assert [e.change for e in loaded.entries] == changes
    assert [e.stored for e in loaded.entries] == [{"netns": "1:2"}] * 4
    assert isinstance(loaded.entries[0], JournalEntry)
