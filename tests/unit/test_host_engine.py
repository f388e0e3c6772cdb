"""Where the machine stands among the clusters, how the runner treats host checks, and the host
checks' judgements, over hand-built views: the healthy base's objects and a made-up machine."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from globalnet_doctor_checks.gd501_stale_resolv_conf import StaleResolvConf
from globalnet_doctor_checks.gd503_clusterset_name_resolution import (
    ClustersetNameResolution,
    resolver_verdict,
)
from globalnet_doctor_checks.gd601_rp_filter_strict import RpFilterStrict
from globalnet_doctor_checks.gd602_globalcidr_route_missing import GlobalCidrRouteMissing
from globalnet_doctor_checks.gd603_global_ip_unreachable import GlobalIpUnreachable, _problems
from scenario import BASES, CLUSTERS, read_cluster_folder
from views_from_objects import view_answering

from globalnet_doctor import host_situation as host_facts
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import clusterset
from globalnet_doctor.facts.clusterset import expected_answers, host_reads
from globalnet_doctor.facts.dns import managed_by
from globalnet_doctor.host_situation import HostMode, HostSituation, Ownership, OwnerSource
from globalnet_doctor.host_view import (
    Address,
    DnsAnswer,
    DnsQuery,
    HostRole,
    HostView,
    IcmpAnswer,
    IcmpEcho,
    IcmpOutcome,
    ResolvConf,
    Route,
    RouteLookup,
    SysctlAssignment,
    TcpAnswer,
    TcpConnect,
    TcpOutcome,
    parse_resolv_conf,
)
from globalnet_doctor.model import Status
from globalnet_doctor.runner import RunOptions, run_checks
from globalnet_doctor.spec import CheckContext
from globalnet_doctor.view import ClusterView, ReadAnswer

SETTINGS = Settings()
GATEWAY = "172.16.255.183"


def base_view(cluster: str) -> ClusterView:
    """A view of the healthy base's cluster answering the host facts' reads."""
    objects = read_cluster_folder(BASES / "healthy" / cluster)
    reads = host_reads(SETTINGS)
    return view_answering(cluster, reads, objects, default_version="v1alpha1")


CLUSTER_VIEWS = [base_view(c) for c in CLUSTERS]


def lookup(ip: str, gateway: str | None = GATEWAY, **fields: Any) -> RouteLookup:
    matched = fields.pop("matched", Route("242.0.0.0/8", gateway=gateway, interface="ens192"))
    return RouteLookup(
        ip,
        gateway=gateway,
        interface="ens192",
        source="172.16.255.184",
        matched=matched,
        **fields,
    )


def machine(address: str = "172.16.255.184", gateway: str | None = GATEWAY, **fields: Any):
    """The field report's host, routing the global CIDR via ``gateway``."""
    cluster_facts = clusterset.cluster_facts(CLUSTER_VIEWS, SETTINGS)
    lookups = {ip: lookup(ip, gateway) for ip in cluster_facts.lookup_addresses()}
    for node in cluster_facts.gateway_nodes:
        lookups[node.address] = lookup(node.address, None, matched=None)
    values: dict[str, Any] = {
        "observed_at": datetime.now(UTC),
        "addresses": (Address("lo", "127.0.0.1", 8), Address("ens192", address, 24)),
        "route_lookups": lookups,
        "sysctls": {
            "net/ipv4/conf/all/rp_filter": "0",
            "net/ipv4/conf/ens192/rp_filter": "0",
        },
        "resolv_conf": parse_resolv_conf("/etc/resolv.conf", "nameserver 242.0.255.254\n"),
    }
    values.update(fields)
    return HostView(**values)


def situation(view: HostView, settings: Settings = SETTINGS, mode: HostMode = HostMode.AUTO):
    facts = clusterset.cluster_facts(CLUSTER_VIEWS, settings)
    return host_facts.situation(view, facts, CLUSTER_VIEWS, settings, mode)


def placed(view: HostView, role: HostRole = HostRole.EXTERNAL) -> HostSituation:
    """The machine as the runner hands it to checks: placed, owned by member1."""
    facts = clusterset.cluster_facts(CLUSTER_VIEWS, SETTINGS)
    owner = Ownership("member1", "--host-cluster")
    return HostSituation(True, "test", view, role, owner=owner, facts=facts)


# -- facts and situation -----------------------------------------------------------------------


def test_the_cluster_facts_of_the_healthy_base():
    found = clusterset.cluster_facts(CLUSTER_VIEWS, SETTINGS)
    assert {n.address for n in found.gateway_nodes} >= {GATEWAY, "172.16.255.181"}
    assert (found.global_range, found.global_range_source) == (
        "242.0.0.0/8",
        "Broker submariner-k8s-broker/submariner-broker in member1",
    )
    assert {c.cidr for c in found.global_cidrs} == {"242.0.0.0/16", "242.1.0.0/16", "242.2.0.0/16"}
    (dns,) = found.dns_services
    assert (dns.context, dns.global_ip) == ("member1", "242.0.255.254")
    names = expected_answers(found)
    assert names["nginx.default.svc.clusterset.local"] == ("242.1.255.253",)
    assert names["web-0.cluster-b.nginx-ss.default.svc.clusterset.local"] == ("242.1.255.251",)
    assert "node.default.svc.clusterset.local" not in names  # no selector: lighthouse#603
    assert found.holder_of("242.0.255.253") is None
    assert found.in_global_space("242.0.255.253")


def test_a_neighbour_of_the_gateways_is_an_external_host_owned_through_its_route():
    found = situation(machine())
    assert (found.applies, found.role) == (True, HostRole.EXTERNAL)
    assert found.reason.startswith("this machine is a neighbour of gateway node member1")
    assert (found.owner.context, found.owner.source) == ("member1", OwnerSource.ROUTE)


def test_without_a_route_through_a_gateway_the_cluster_cidr_tells_the_owner():
    found = situation(machine(gateway="172.16.255.1"))
    assert (found.owner.context, found.owner.source) == ("member1", OwnerSource.CLUSTER_CIDR)
    named = situation(machine(), Settings(host_cluster="cluster-b"))
    assert (named.owner.context, named.owner.source) == ("member2", OwnerSource.FLAG)
    nowhere = situation(machine("172.16.255.190", gateway="172.16.255.1"))
    assert nowhere.owner.context is None
    assert "--host-cluster CONTEXT" in nowhere.owner.reason


def test_a_gateway_nodes_own_address_makes_it_a_gateway():
    found = situation(machine(GATEWAY))
    assert (found.role, found.owner.context) == (HostRole.GATEWAY, "member1")
    assert found.node is not None
    assert found.node.node == "member1"


def test_elsewhere_host_checks_skip_naming_the_flag_unless_host_is_given():
    far = machine("10.77.0.2")
    skipped = situation(far)
    assert not skipped.applies
    assert skipped.reason.endswith("run with --host to check it anyway")
    assert situation(far, mode=HostMode.ON).applies
    off = situation(machine(), mode=HostMode.OFF)
    assert (off.applies, off.reason) == (
        False,
        "host checks are turned off (--no-host); drop it to run them",
    )


# -- the runner --------------------------------------------------------------------------------


def run_host(check, view: HostView | None, mode: HostMode = HostMode.AUTO, probes=False):
    found = situation(view, mode=mode) if view is not None else None
    options = RunOptions(SETTINGS, probes=probes)
    (result,) = run_checks([check], CLUSTER_VIEWS, options, host=found)
    return result


def test_host_checks_run_once_as_host_and_skip_with_the_reason_elsewhere():
    result = run_host(RpFilterStrict, machine())
    assert (result.cluster, result.status) == ("host", Status.PASS)
    assert run_host(RpFilterStrict, None).skip_reason == (
        "this run did not read the machine gdoctor runs on"
    )
    assert "run with --host" in (run_host(RpFilterStrict, machine("10.77.0.2")).skip_reason or "")
    gateway = run_host(StaleResolvConf, machine(GATEWAY))
    assert (gateway.skip_reason or "").startswith(
        "applies to external machines; this one is a gateway machine (this machine is gateway"
    )
    broken = run_host(RpFilterStrict, machine(error="cannot read the network configuration"))
    assert (broken.status, broken.error) == (Status.ERROR, "cannot read the network configuration")


def test_probe_checks_skip_without_probes_and_say_how_to_run_them():
    result = run_host(GlobalIpUnreachable, machine())
    assert result.skip_reason == (
        "a probe (sends traffic from this machine): runs with --probes or when named "
        "(gdoctor check GD603)"
    )


# -- the checks' judgements --------------------------------------------------------------------


def context(view: HostView, role: HostRole = HostRole.EXTERNAL, probes=False) -> CheckContext:
    return CheckContext(CLUSTER_VIEWS[0], CLUSTER_VIEWS, SETTINGS, probes, placed(view, role))


def test_rp_filter_takes_the_max_of_all_and_the_interface():
    strict_all = machine(
        sysctls={"net/ipv4/conf/all/rp_filter": "1", "net/ipv4/conf/ens192/rp_filter": "2"}
    )
    # max(1, 2) = 2: loose wins over a strict `all`, as the kernel does.
    assert list(RpFilterStrict().run(context(strict_all))) == []
    strict_interface = machine(
        sysctls={"net/ipv4/conf/all/rp_filter": "0", "net/ipv4/conf/ens192/rp_filter": "1"}
    )
    (finding,) = RpFilterStrict().run(context(strict_interface))
    assert finding.evidence["runtime"] == {"all": 0, "ens192": 1, "effective": 1}


def test_rp_filter_strict_only_at_boot_is_a_warning():
    view = machine(
        sysctl_assignments=(
            SysctlAssignment("net/ipv4/conf/default/rp_filter", "1", "/etc/sysctl.d/10.conf", 1),
        )
    )
    (finding,) = RpFilterStrict().run(context(view))
    assert finding.severity == "warning"
    assert finding.evidence["persisted"]["ens192"] == {
        "value": "1",
        "source": "/etc/sysctl.d/10.conf:1",
    }


def test_a_route_through_another_clusters_gateway_is_wrong_when_the_owner_is_known():
    view = machine(gateway="172.16.255.181")
    settings = Settings(host_cluster="member1")
    ctx = dataclasses.replace(context(view), settings=settings)
    (finding,) = GlobalCidrRouteMissing().run(ctx)
    assert "gateway node member2 (172.16.255.181) of member2, but this machine belongs to " in (
        finding.message
    )


def test_resolv_conf_naming_the_dns_ip_only_fourth_is_a_finding():
    text = "".join(f"nameserver 10.0.0.{i}\n" for i in range(1, 4)) + "nameserver 242.0.255.254\n"
    view = machine(resolv_conf=parse_resolv_conf("/etc/resolv.conf", text))
    (finding,) = StaleResolvConf().run(context(view))
    assert "only as nameserver #4" in finding.message
    assert finding.evidence["ignoredNameservers"] == ["242.0.255.254"]


def test_who_manages_resolv_conf():
    resolved = ResolvConf("/etc/resolv.conf", symlink_target="../run/systemd/resolve/stub.conf")
    assert managed_by(resolved) == "systemd-resolved"
    nm = parse_resolv_conf("/etc/resolv.conf", "# Generated by NetworkManager\nnameserver 1.1.1.1")
    assert managed_by(nm) == "NetworkManager"
    assert managed_by(parse_resolv_conf("/etc/resolv.conf", "nameserver 1.1.1.1\n")) is None


def test_the_resolver_walks_nameservers_like_glibc():
    timeout = DnsAnswer(error="timeout after 2 s")
    servfail = DnsAnswer("SERVFAIL")
    nxdomain = DnsAnswer("NXDOMAIN")
    answer = DnsAnswer("NOERROR", ("242.1.255.253",))
    assert resolver_verdict([("a", timeout), ("b", servfail), ("c", answer)]) == ("c", answer)
    assert resolver_verdict([("a", nxdomain), ("b", answer)]) == ("a", nxdomain)
    assert resolver_verdict([("a", timeout)]) == (None, None)


def test_name_resolution_reads_the_recorded_answers():
    view = machine()
    queries = ClustersetNameResolution.host_probe_requests(placed(view), CLUSTER_VIEWS, SETTINGS)
    assert DnsQuery("nginx.default.svc.clusterset.local", "242.0.255.254") in queries
    expected = expected_answers(clusterset.cluster_facts(CLUSTER_VIEWS, SETTINGS))
    for query in queries:
        assert isinstance(query, DnsQuery)
        view.probe_answers[query] = DnsAnswer("NOERROR", expected[query.name])
    stale = DnsQuery("nginx.default.svc.clusterset.local", "242.0.255.254")
    view.probe_answers[stale] = DnsAnswer("NOERROR", ("242.1.255.200",))
    (finding,) = ClustersetNameResolution().run(context(view, probes=True))
    assert finding.message.startswith(
        "nginx.default.svc.clusterset.local resolves to 242.1.255.200"
    )


@pytest.mark.parametrize(
    ("icmp", "tcp", "problems"),
    [
        (IcmpAnswer(IcmpOutcome.REPLY, "242.1.255.253", 0, 0), {}, []),
        (IcmpAnswer(IcmpOutcome.NOT_SENT, detail="no CAP_NET_RAW"), {}, None),
        (
            IcmpAnswer(IcmpOutcome.REPLY, "10.0.0.9", 0, 0),
            {80: TcpAnswer(TcpOutcome.CONNECTED)},
            ["the echo reply came from 10.0.0.9, not from 242.1.255.253"],
        ),
        (
            IcmpAnswer(IcmpOutcome.NOT_SENT, detail="no CAP_NET_RAW"),
            {80: TcpAnswer(TcpOutcome.TIMEOUT, "no answer within 2 s")},
            ["TCP port 80: timeout (no answer within 2 s)"],
        ),
    ],
    ids=["udp-only-ping-answers", "udp-only-unprivileged", "reply-from-elsewhere", "tcp-timeout"],
)
def test_reachability_judgement(icmp, tcp, problems):
    assert _problems("242.1.255.253", icmp, tcp) == problems


def test_reachability_probes_every_global_ip_and_tcp_port():
    probes = GlobalIpUnreachable.host_probe_requests(placed(machine()), CLUSTER_VIEWS, SETTINGS)
    assert IcmpEcho("242.1.255.253") in probes
    assert TcpConnect("242.1.255.253", 80) in probes
    assert TcpConnect("242.0.255.254", 53) in probes  # the DNS service's TCP port


def test_when_a_cluster_could_not_be_read_host_checks_error_rather_than_skip():
    unreachable = ClusterView("member1", "https://member1", datetime.now(UTC), reachable=False)
    views = [unreachable, *CLUSTER_VIEWS[1:]]
    cluster_facts = clusterset.cluster_facts(views, SETTINGS)
    far = machine("10.77.0.2")
    found = host_facts.situation(far, cluster_facts, views, SETTINGS, HostMode.AUTO)
    assert found.error == (
        "cannot tell whether this machine is a neighbour of a gateway node: member1 could not "
        "be read (run with --host to check it anyway)"
    )
    (result,) = run_checks([RpFilterStrict], views, RunOptions(SETTINGS), host=found)
    assert result.status is Status.ERROR


def test_hand_written_cidrs_that_do_not_parse_take_part_in_nothing():
    view = base_view("member1")
    broker_read = next(r for r in view.answers if r.kind.kind == "Broker")
    (broker,) = view.answers[broker_read].objects
    bad = {**broker, "spec": {**broker["spec"], "globalnetCIDRRange": "242.0.0.0/88"}}
    view.answers[broker_read] = ReadAnswer((bad,), api_version="submariner.io/v1alpha1")
    found = clusterset.cluster_facts([view, *CLUSTER_VIEWS[1:]], SETTINGS)
    assert found.global_range == "242.0.0.0/8"
    assert "holds no CIDR: '242.0.0.0/88'" in found.global_range_source
    assert "242.0.0.1" in found.lookup_addresses()
