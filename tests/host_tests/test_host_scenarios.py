"""Every host scenario, in network namespaces against the real lab: gdoctor runs inside the
host namespace and gives exactly the statuses the scenario expects; each scenario's findings
then say what the kernel does (the details below, one function per scenario)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from netns import host_scenario_paths
from netns.hostlab import HostLab, Outcome

pytestmark = pytest.mark.lab

HOST_SCENARIOS = [f"{p.parent.name}/{p.name}" for p in host_scenario_paths()]
HOST_CHECKS = ("GD501", "GD503", "GD601", "GD602", "GD603")
Details = Callable[[Outcome], None]
DETAILS: dict[str, Details] = {}


def details(name: str) -> Callable[[Details], Details]:
    def register(function: Details) -> Details:
        DETAILS[name] = function
        return function

    return register


@pytest.mark.parametrize("name", HOST_SCENARIOS)
def test_host_scenario(host_lab: HostLab, name: str) -> None:
    outcome = host_lab.run(name)
    expect = outcome.scenario.scenario.expect
    actual = outcome.statuses
    if "--all" in outcome.scenario.scenario.args:
        actual = {check: actual[check] for check in expect}
    assert actual == expect, outcome.describe()
    errors = [
        f
        for r in outcome.report["results"]
        if r["status"] == "fail"
        for f in r["findings"]
        if f["severity"] == "error"
    ]
    assert outcome.run.code == (1 if errors else 0), outcome.describe()
    DETAILS[name](outcome)


def test_every_host_scenario_has_its_details_and_every_detail_its_scenario() -> None:
    assert set(DETAILS) == set(HOST_SCENARIOS)


def only(outcome: Outcome, check: str) -> dict:
    (finding,) = outcome.findings(check)
    return finding


# -- the field report --------------------------------------------------------------------------


@details("combined/field-report-host-FAIL")
def _field_report(outcome: Outcome) -> None:
    rp_filter = only(outcome, "GD601")
    assert rp_filter["evidence"]["interface"] == "ens192"
    assert rp_filter["evidence"]["runtime"] == {"all": 1, "ens192": 0, "effective": 1}
    assert rp_filter["remediation"]["fix"] == "GD601"
    route = only(outcome, "GD602")
    assert "no route through a gateway node to the global CIDR 242.0.0.0/8" in route["message"]
    assert "packets for it take the default route via 172.16.255.1" in route["message"]
    assert (
        "ip route replace 242.0.0.0/8 via 172.16.255.183 dev ens192"
        in (route["remediation"]["text"])
    )
    assert route["remediation"]["fix"] == "GD602"
    resolv = only(outcome, "GD501")
    assert resolv["evidence"]["staleNameservers"] == ["242.0.255.253"]
    assert resolv["evidence"]["dnsServiceGlobalIP"] == "242.0.255.254"
    assert (
        "Replace `nameserver 242.0.255.253` with `nameserver 242.0.255.254`"
        in (resolv["remediation"]["text"])
    )
    names = only(outcome, "GD503")
    assert names["message"].startswith("no clusterset name resolves")
    assert "242.0.255.253: no answer (timeout after 2 s)" in names["message"]
    unreachable = outcome.findings("GD603")
    assert {f["evidence"]["globalIP"] for f in unreachable} == {
        "242.0.255.254",
        "242.0.255.252",
        "242.1.255.253",
        "242.1.255.251",
        "242.1.255.250",
    }
    assert all("via 172.16.255.1 dev ens192" in f["evidence"]["route"] for f in unreachable)


@details("combined/field-report-host-repaired-PASS")
def _field_report_repaired(outcome: Outcome) -> None:
    assert outcome.run.code == 0


# -- GD306 (the host side) -------------------------------------------------------------------


@details("GD306/host-ip-read-from-the-machine-PASS")
def _host_ip_from_machine(outcome: Outcome) -> None:
    reason = outcome.result("GD306", "member2")["skipReason"]
    assert reason == "the external host 172.16.255.184 belongs to member1, not here"


@details("GD306/machine-outside-cluster-cidr-FAIL")
def _machine_outside(outcome: Outcome) -> None:
    (finding,) = outcome.result("GD306", "member1")["findings"]
    assert finding["message"].startswith(
        "the external host 172.16.255.186 is outside every clusterCIDR of this cluster"
    )
    assert finding["evidence"]["externalHostFrom"] == "this machine"
    assert finding["evidence"]["ownedBecause"] == (
        "its route to 242.0.0.0/8 goes through gateway node member1 (172.16.255.183) of member1"
    )
    assert (
        "--clustercidr 10.43.0.0/16,172.16.255.184/32,172.16.255.186/32"
        in (finding["remediation"]["text"])
    )


# -- GD601 -------------------------------------------------------------------------------------


@details("GD601/rp-filter-strict-on-host-interface-FAIL")
def _strict_interface(outcome: Outcome) -> None:
    finding = only(outcome, "GD601")
    assert finding["severity"] == "error"
    assert "max(all=0, ens192=1)" in finding["message"]
    assert "it reaches gateway node member1 (172.16.255.183) of member1" in finding["message"]
    assert (
        "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.ens192.rp_filter=2"
        in (finding["remediation"]["text"])
    )


@details("GD601/strict-only-in-persisted-files-FAIL")
def _strict_at_boot(outcome: Outcome) -> None:
    finding = only(outcome, "GD601")
    assert finding["severity"] == "warning"
    assert "/etc/sysctl.d/10-hardening.conf:2" in finding["message"]
    evidence = finding["evidence"]
    assert evidence["runtime"]["effective"] == 2
    assert evidence["persisted"]["all"] == {
        "value": "1",
        "source": "/etc/sysctl.d/10-hardening.conf:2",
    }
    # Nothing sets ens192 (or default) at boot: the vendor glob is masked.
    assert evidence["persisted"]["ens192"] is None
    assert evidence["persisted"]["effectiveAtBoot"] == 1
    assert evidence["sysctlFiles"] == [
        "/etc/sysctl.d/10-hardening.conf",
        "/etc/sysctl.d/50-default.conf",
    ]


@details("GD601/loose-at-runtime-and-at-boot-PASS")
def _loose(outcome: Outcome) -> None:
    assert outcome.result("GD601")["findings"] == []


@details("GD601/gateway-node-strict-FAIL")
def _gateway_node(outcome: Outcome) -> None:
    finding = only(outcome, "GD601")
    assert finding["evidence"]["role"] == "gateway"
    assert finding["evidence"]["why"] == (
        "it holds the InternalIP of gateway node member1 (172.16.255.183) of member1"
    )
    for check in ("GD501", "GD503", "GD602", "GD603"):
        reason = outcome.result(check)["skipReason"]
        assert reason.startswith("applies to external machines; this one is a gateway machine")


@details("GD601/not-a-neighbour-of-any-gateway-SKIP")
def _not_a_neighbour(outcome: Outcome) -> None:
    for check in HOST_CHECKS:
        reason = outcome.result(check)["skipReason"]
        assert reason.startswith("this machine has no address on a subnet holding a gateway")
        assert "172.16.255.183 (member1 of member1)" in reason
        assert reason.endswith("run with --host to check it anyway")
    # The cluster checks of --all ran as usual.
    assert any(r["cluster"] == "member1" for r in outcome.report["results"])


# -- GD602 -------------------------------------------------------------------------------------


@details("GD602/no-route-to-global-cidr-FAIL")
def _no_route(outcome: Outcome) -> None:
    finding = only(outcome, "GD602")
    assert (
        "take the default route via 172.16.255.1, which is no cluster node" in (finding["message"])
    )
    assert finding["evidence"]["routesCoveringTheGlobalRange"] == []
    assert finding["evidence"]["cidrs"] == [
        "242.0.0.0/8",
        "242.0.0.0/16",
        "242.1.0.0/16",
        "242.2.0.0/16",
    ]


@details("GD602/route-via-node-that-is-not-a-gateway-FAIL")
def _not_a_gateway(outcome: Outcome) -> None:
    finding = only(outcome, "GD602")
    assert (
        "node member1-worker (172.16.255.185) of member1, which is not labelled"
        in (finding["message"])
    )
    assert finding["resources"] == [
        {
            "cluster": "member1",
            "apiVersion": "v1",
            "kind": "Node",
            "namespace": None,
            "name": "member1-worker",
        }
    ]
    assert (
        "242.0.0.0/8 via 172.16.255.185 dev ens192"
        in (finding["evidence"]["routesCoveringTheGlobalRange"][0])
    )
    nginx = next(
        f for f in outcome.findings("GD603") if f["evidence"]["globalIP"] == "242.1.255.253"
    )
    assert (
        "an ICMP destination unreachable (host unreachable) came back from 172.16.255.185, "
        "not from 242.1.255.253"
    ) in nginx["message"]


@details("GD602/no-default-route-FAIL")
def _no_default_route(outcome: Outcome) -> None:
    finding = only(outcome, "GD602")
    assert (
        "the kernel has no route for it: `ip route get 242.0.0.1` answers: Network is "
        in (finding["message"])
    )


@details("GD602/global-route-without-default-route-PASS")
def _route_without_default(outcome: Outcome) -> None:
    assert outcome.result("GD603")["findings"] == []


# -- GD501 -------------------------------------------------------------------------------------


@details("GD501/resolv-conf-names-old-dns-ip-FAIL")
def _old_dns_ip(outcome: Outcome) -> None:
    finding = only(outcome, "GD501")
    assert finding["message"] == (
        "/etc/resolv.conf names 242.0.255.253, which no GlobalIngressIP holds any more: the DNS "
        "Service submariner-operator/external-dns-cluster-a of member1 now has the global IP "
        "242.0.255.254, so clusterset names do not resolve"
    )
    assert {r["kind"] for r in finding["resources"]} == {"GlobalIngressIP", "Service"}


@details("GD501/no-resolv-conf-FAIL")
def _no_resolv_conf(outcome: Outcome) -> None:
    finding = only(outcome, "GD501")
    assert finding["message"].endswith(
        "resolv.conf does not exist, so the resolver asks 127.0.0.1, not the DNS Service "
        "submariner-operator/external-dns-cluster-a of member1 at its global IP 242.0.255.254"
    )
    names = only(outcome, "GD503")
    assert "(127.0.0.1: no answer (timeout after 2 s))" in names["message"]


@details("GD501/several-nameservers-PASS")
def _several_nameservers(outcome: Outcome) -> None:
    assert outcome.result("GD503")["findings"] == []


@details("GD501/ipv6-nameserver-line-PASS")
def _ipv6_nameserver(outcome: Outcome) -> None:
    assert outcome.result("GD501")["findings"] == []


@details("GD501/unreadable-resolv-conf-SKIP")
def _unreadable(outcome: Outcome) -> None:
    assert outcome.result("GD501")["skipReason"] == (
        "cannot read /etc/resolv.conf: permission denied"
    )
    assert outcome.result("GD503")["skipReason"] == (
        "cannot read /etc/resolv.conf: permission denied"
    )


# -- GD503 -------------------------------------------------------------------------------------


@details("GD503/dnsmasq-answers-outdated-ip-FAIL")
def _outdated_answer(outcome: Outcome) -> None:
    finding = only(outcome, "GD503")
    assert finding["message"].startswith(
        "nginx.default.svc.clusterset.local resolves to 242.1.255.200 through 242.0.255.254"
    )
    assert finding["evidence"]["expected"] == ["242.1.255.253"]


@details("GD503/names-resolve-through-the-dns-service-PASS")
def _names_resolve(outcome: Outcome) -> None:
    assert outcome.result("GD503")["findings"] == []


# -- GD603 -------------------------------------------------------------------------------------


@details("GD603/service-port-closed-FAIL")
def _port_closed(outcome: Outcome) -> None:
    finding = only(outcome, "GD603")
    assert finding["message"] == (
        "default/nginx of member2 at its global IP 242.1.255.253: it answers ping but TCP port "
        "80 is refused: nothing serves the port behind the global IP"
    )
    assert finding["evidence"]["icmp"] == "echo reply from 242.1.255.253"


@details("GD603/global-ips-answer-PASS")
def _global_ips_answer(outcome: Outcome) -> None:
    assert outcome.result("GD603")["findings"] == []


@details("field-report/with-host-FAIL")
def _whole_field_report(outcome: Outcome) -> None:
    # Every failure of the report in one run on the host: the cluster causes and the host's.
    failing = {
        (r["check"], r["cluster"]) for r in outcome.report["results"] if r["status"] == "fail"
    }
    assert {
        ("GD101", "member2"),
        ("GD201", "member1"),
        ("GD202", "member3"),
        ("GD203", "member2"),
        ("GD301", "member1"),
        ("GD302", "member1"),
        ("GD402", "member1"),
    } <= failing
    assert {("GD501", "host"), ("GD601", "host"), ("GD602", "host")} <= failing
    assert "242.0.255.254" in only(outcome, "GD501")["message"]
