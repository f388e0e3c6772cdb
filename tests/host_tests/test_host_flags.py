"""--host, --no-host and unprivileged probes, in network namespaces against the real lab."""

from __future__ import annotations

import pytest
from netns.hostlab import HostLab

pytestmark = pytest.mark.lab

NOT_A_NEIGHBOUR = "GD601/not-a-neighbour-of-any-gateway-SKIP"
HOST_CHECKS = ("GD501", "GD503", "GD601", "GD602", "GD603")


def test_host_runs_the_host_checks_on_a_machine_that_is_no_neighbour(host_lab: HostLab) -> None:
    outcome = host_lab.run(NOT_A_NEIGHBOUR, "--host")
    statuses = outcome.statuses
    assert {c: statuses[c]["host"] for c in HOST_CHECKS} == {
        "GD501": "pass",
        "GD503": "skip",
        "GD601": "pass",
        "GD602": "fail",
        "GD603": "skip",
    }, outcome.describe()
    (route,) = outcome.findings("GD602")
    assert (
        "packets for it take the default route via 10.77.0.1, which is no cluster node"
        in (route["message"])
    )
    # Without --probes, --all does not send probes: they say how to run them.
    assert outcome.result("GD503")["skipReason"].startswith(
        "a probe (sends traffic from this machine): runs with --probes or when named"
    )


def test_no_host_turns_the_host_checks_off(host_lab: HostLab) -> None:
    outcome = host_lab.run("combined/field-report-host-FAIL", "--no-host")
    for check in HOST_CHECKS:
        assert outcome.result(check)["status"] == "skip"
        assert outcome.result(check)["skipReason"] == (
            "host checks are turned off (--no-host); drop it to run them"
        )
    assert outcome.run.code == 0


def test_without_raw_sockets_icmp_is_not_sent_and_tcp_decides(host_lab: HostLab) -> None:
    outcome = host_lab.run("GD603/service-port-closed-FAIL", drop_capabilities=["net_raw"])
    (finding,) = outcome.findings("GD603")
    assert finding["message"] == (
        "default/nginx of member2 at its global IP 242.1.255.253: TCP port 80 is refused"
    )
    assert finding["evidence"]["icmp"] == (
        "not-sent (raw sockets need CAP_NET_RAW (run gdoctor as root for ICMP probes))"
    )
