"""The pure parts of the Calico fixes: probe commands and new pool objects (no lab needed)."""

from __future__ import annotations

import pytest
from globalnet_doctor_fixes.gd201_calico_not_vxlan import without_bird_flags
from globalnet_doctor_fixes.gd203_calico_ippools_missing import NewPool, pool_object


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["/bin/calico-node", "-felix-live", "-bird-live"], ["/bin/calico-node", "-felix-live"]),
        (["/bin/calico-node", "-bird-ready", "-felix-ready"], ["/bin/calico-node", "-felix-ready"]),
        (
            ["/bin/sh", "-c", "/bin/calico-node -bird-ready -felix-ready"],
            ["/bin/sh", "-c", "/bin/calico-node -felix-ready"],
        ),
        (
            ["sh", "-c", "-bird-ready  -bird-live -felix-ready -felix-live"],
            ["sh", "-c", "-felix-ready -felix-live"],
        ),
        (
            ["/bin/calico-node", "--bird-ready", "--felix-ready"],
            ["/bin/calico-node", "--felix-ready"],
        ),
        # Left without any check flag calico-node would fail the probe: Felix's takes its place.
        (["/bin/calico-node", "-bird-ready"], ["/bin/calico-node", "-felix-ready"]),
        (["sh", "-c", "calico-node -bird-live"], ["sh", "-c", "calico-node -felix-live"]),
        (["/bin/calico-node", "-felix-ready"], ["/bin/calico-node", "-felix-ready"]),
    ],
)
def test_without_bird_flags_keeps_everything_else(command, expected):
    assert without_bird_flags(command) == expected


def test_a_pool_for_a_host_route_gets_a_block_that_fits():
    new = NewPool(
        "gdoctor-c-172.16.255.184-32", "172.16.255.184/32", "projectcalico.org/v3", "", ""
    )
    spec = pool_object(new)["spec"]
    assert (spec["cidr"], spec["blockSize"]) == ("172.16.255.184/32", 32)


def test_a_pool_cidr_is_written_without_host_bits():
    new = NewPool("gdoctor-c-10.1.2.3-16", "10.1.2.3/16", "crd.projectcalico.org/v1", "", "")
    obj = pool_object(new)
    assert obj["apiVersion"] == "crd.projectcalico.org/v1"
    assert (obj["spec"]["cidr"], obj["spec"]["blockSize"]) == ("10.1.0.0/16", 26)
