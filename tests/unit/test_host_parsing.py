"""The host view's parsers and file readers: resolv.conf, sysctl.d in systemd's order, /proc/sys
under --root. No network, no root needed."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from globalnet_doctor.adapters.host_reader import (
    read_persisted_sysctls,
    read_resolv_conf,
    read_runtime_sysctls,
    sysctl_file_order,
)
from globalnet_doctor.host_view import (
    Address,
    DnsAnswer,
    DnsQuery,
    HostView,
    IcmpAnswer,
    IcmpEcho,
    IcmpOutcome,
    Route,
    RouteLookup,
    SysctlAssignment,
    TcpAnswer,
    TcpConnect,
    TcpOutcome,
    host_view_from_dict,
    host_view_to_dict,
    parse_resolv_conf,
    parse_sysctl_file,
    persisted_value,
    sysctl_path,
)


def test_resolv_conf_is_read_as_glibc_reads_it():
    text = (
        "# generated\n"
        "; also a comment\n"
        "domain old.example\n"
        "nameserver 242.0.255.254\n"
        "nameserver   fd00:53::1   \n"
        "search a.example b.example\n"
        "options ndots:5\n"
        "options timeout:1 rotate\n"
        "nameserver 10.0.0.2 # inline note\n"
        "nameserver\n"
        "nameserver 10.0.0.3\n"
    )
    parsed = parse_resolv_conf("/etc/resolv.conf", text)
    assert parsed.nameservers == ("242.0.255.254", "fd00:53::1", "10.0.0.2", "10.0.0.3")
    assert parsed.search == ("a.example", "b.example")  # the last search/domain line wins
    assert parsed.options == ("ndots:5", "timeout:1", "rotate")
    assert parsed.text == text
    assert parse_resolv_conf("p", "search x\ndomain y\n").search == ("y",)


def test_an_unreadable_missing_or_linked_resolv_conf_is_recorded(tmp_path):
    assert read_resolv_conf(tmp_path / "absent").error == "no such file"
    assert read_resolv_conf(tmp_path).error == "is a directory"
    target = tmp_path / "stub-resolv.conf"
    target.write_text("nameserver 127.0.0.53\n")
    link = tmp_path / "resolv.conf"
    link.symlink_to(target)
    linked = read_resolv_conf(link)
    assert (linked.nameservers, linked.symlink_target) == (("127.0.0.53",), str(target))
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    assert read_resolv_conf(tmp_path / "binary").error == "not UTF-8 text"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_resolv_conf_without_read_permission_says_so(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 1.1.1.1\n")
    path.chmod(0)
    assert read_resolv_conf(path).error == "permission denied"


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("net.ipv4.conf.all.rp_filter", "net/ipv4/conf/all/rp_filter"),
        ("net/ipv4/conf/all/rp_filter", "net/ipv4/conf/all/rp_filter"),
        ("net.ipv4.conf.eth0/100.rp_filter", "net/ipv4/conf/eth0.100/rp_filter"),
        ("net/ipv4/conf/eth0.100/rp_filter", "net/ipv4/conf/eth0.100/rp_filter"),
        ("  net.ipv4.conf.*.rp_filter ", "net/ipv4/conf/*/rp_filter"),
    ],
)
def test_sysctl_names_become_proc_sys_paths_as_sysctl_d_says(key, path):
    assert sysctl_path(key) == path


def test_sysctl_files_parse_comments_ignore_failure_and_exclusions():
    text = "# c\n; c\n\nnet.ipv4.ip_forward=1\n-net.ipv4.conf.all.rp_filter = 2\n-net.x.y\n"
    found = parse_sysctl_file("/etc/sysctl.d/a.conf", text)
    assert found == [
        SysctlAssignment("net/ipv4/ip_forward", "1", "/etc/sysctl.d/a.conf", 4),
        SysctlAssignment("net/ipv4/conf/all/rp_filter", "2", "/etc/sysctl.d/a.conf", 5, True),
        SysctlAssignment("net/x/y", None, "/etc/sysctl.d/a.conf", 6, True),
    ]


def assignment(key, value, file="f", line=1):
    return SysctlAssignment(sysctl_path(key), value, file, line)


def test_persisted_values_follow_systemd_sysctl():
    all_key, eth0 = "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/eth0/rp_filter"
    # Later lines win.
    later = [assignment("net.ipv4.conf.all.rp_filter", "1", "a", 1), assignment(all_key, "2", "b")]
    assert persisted_value(later, all_key).value == "2"
    # An explicit key beats a glob whatever the order.
    mixed = [assignment(all_key, "1"), assignment("net.ipv4.conf.*.rp_filter", "2", "z", 9)]
    assert persisted_value(mixed, all_key).value == "1"
    assert persisted_value(mixed, eth0).source == "z:9"
    # `-key` without `=` keeps globs off that key.
    excluded = [
        assignment("net.ipv4.conf.*.rp_filter", "2"),
        SysctlAssignment(all_key, None, "f", 2, ignore_failure=True),
    ]
    assert persisted_value(excluded, all_key) is None
    assert persisted_value(excluded, eth0).value == "2"
    assert persisted_value([], all_key) is None


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_sysctl_files_apply_by_name_across_directories_etc_masking_usr_lib(tmp_path):
    write(tmp_path, "usr/lib/sysctl.d/50-default.conf", "net.ipv4.conf.all.rp_filter = 2\n")
    write(tmp_path, "usr/lib/sysctl.d/60-vendor.conf", "net.ipv4.conf.all.rp_filter = 1\n")
    write(tmp_path, "run/sysctl.d/60-vendor.conf", "net.ipv4.conf.all.rp_filter = 0\n")
    write(tmp_path, "etc/sysctl.d/60-vendor.conf", "# masked\n")
    write(tmp_path, "usr/local/lib/sysctl.d/10-local.conf", "net.ipv4.ip_forward = 1\n")
    write(tmp_path, "etc/sysctl.d/README", "not a .conf file\n")
    write(tmp_path, "etc/sysctl.conf", "net.ipv4.conf.all.rp_filter = 1\n")
    order = [str(p.relative_to(tmp_path)) for p in sysctl_file_order(tmp_path)]
    assert order == [
        "usr/local/lib/sysctl.d/10-local.conf",
        "usr/lib/sysctl.d/50-default.conf",
        "etc/sysctl.d/60-vendor.conf",
        "etc/sysctl.conf",  # last: it wins over every sysctl.d file
    ]
    files, assignments, errors = read_persisted_sysctls(tmp_path)
    assert files[0] == "/usr/local/lib/sysctl.d/10-local.conf"
    assert persisted_value(assignments, "net/ipv4/conf/all/rp_filter").source == (
        "/etc/sysctl.conf:1"
    )
    assert errors == ()


def test_etc_sysctl_conf_read_through_a_sysctl_d_link_is_read_once(tmp_path):
    write(tmp_path, "etc/sysctl.conf", "net.ipv4.conf.all.rp_filter = 1\n")
    (tmp_path / "etc/sysctl.d").mkdir()
    (tmp_path / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    write(tmp_path, "usr/lib/sysctl.d/50-x.conf", "net.ipv4.conf.all.rp_filter = 2\n")
    assert [p.name for p in sysctl_file_order(tmp_path)] == ["50-x.conf", "99-sysctl.conf"]


def test_a_file_masked_by_dev_null_sets_nothing(tmp_path):
    write(tmp_path, "usr/lib/sysctl.d/50-x.conf", "net.ipv4.conf.all.rp_filter = 1\n")
    (tmp_path / "etc/sysctl.d").mkdir(parents=True)
    (tmp_path / "etc/sysctl.d/50-x.conf").symlink_to("/dev/null")
    files, assignments, _ = read_persisted_sysctls(tmp_path)
    assert (files, assignments) == (("/etc/sysctl.d/50-x.conf",), ())


def test_runtime_sysctls_are_read_under_root(tmp_path):
    for name, value in (("all", "0"), ("default", "2"), ("ens192", "1")):
        write(tmp_path, f"proc/sys/net/ipv4/conf/{name}/rp_filter", f"{value}\n")
    write(tmp_path, "proc/sys/net/ipv4/ip_forward", "1\n")
    assert read_runtime_sysctls(tmp_path) == {
        "net/ipv4/conf/all/rp_filter": "0",
        "net/ipv4/conf/default/rp_filter": "2",
        "net/ipv4/conf/ens192/rp_filter": "1",
        "net/ipv4/ip_forward": "1",
    }


def test_the_host_view_is_plain_data_a_bundle_can_store_and_read_back():
    view = HostView(
        observed_at=datetime(2026, 11, 27, 3, 0, tzinfo=UTC),
        hostname="node",
        addresses=(Address("ens192", "172.16.255.184", 24),),
        routes=(Route("242.0.0.0/8", gateway="172.16.255.183", interface="ens192"),),
        route_lookups={
            "242.0.0.1": RouteLookup(
                "242.0.0.1",
                gateway="172.16.255.183",
                interface="ens192",
                matched=Route("242.0.0.0/8", gateway="172.16.255.183"),
            ),
            "242.9.0.1": RouteLookup("242.9.0.1", error="Network is unreachable"),
        },
        sysctls={"net/ipv4/conf/all/rp_filter": "1"},
        sysctl_assignments=(SysctlAssignment("net/ipv4/conf/all/rp_filter", "1", "/f", 1),),
        resolv_conf=parse_resolv_conf("/etc/resolv.conf", "nameserver 242.0.255.253\n"),
        probe_answers={
            DnsQuery("nginx.default.svc.clusterset.local", "242.0.255.254"): DnsAnswer(
                "NOERROR", ("242.1.255.253",)
            ),
            TcpConnect("242.1.255.253", 80): TcpAnswer(TcpOutcome.REFUSED, "connection refused"),
            IcmpEcho("242.1.255.253"): IcmpAnswer(IcmpOutcome.REPLY, "242.1.255.253", 0, 0),
        },
    )
    stored = json.loads(json.dumps(host_view_to_dict(view)))
    assert host_view_from_dict(stored) == view


def test_probes_on_loopback_record_connected_refused_and_not_sent(tmp_path):
    import socket

    from globalnet_doctor.adapters.host_prober import send_probes

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: a connect gets a reset
    try:
        open_port, closed_port = listener.getsockname()[1], closed.getsockname()[1]
        view = HostView(observed_at=datetime.now(UTC))
        send_probes(
            view,
            [
                TcpConnect("127.0.0.1", open_port),
                TcpConnect("127.0.0.1", closed_port),
                IcmpEcho("::1"),
                IcmpEcho("not-an-ip"),
            ],
            timeout=1,
        )
    finally:
        listener.close()
        closed.close()
    answers = view.probe_answers
    assert answers[TcpConnect("127.0.0.1", open_port)].outcome is TcpOutcome.CONNECTED
    assert answers[TcpConnect("127.0.0.1", closed_port)].outcome is TcpOutcome.REFUSED
    for echo in (IcmpEcho("::1"), IcmpEcho("not-an-ip")):
        assert answers[echo] == IcmpAnswer(
            IcmpOutcome.NOT_SENT, detail="ICMP probes are sent to IPv4 addresses only"
        )
