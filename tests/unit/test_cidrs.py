"""CIDR arithmetic the Calico and Globalnet checks rely on."""

from __future__ import annotations

import pytest

from globalnet_doctor.facts.cidrs import contains_address, covers, dashed, overlaps, parse_network


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("242.1.0.0/16", "242.1.0.0/16", True),  # equal
        ("242.0.0.0/15", "242.1.0.0/16", True),  # a supernet covers: containment, not equality
        ("242.0.0.0/8", "242.2.0.0/16", True),
        ("242.1.0.0/16", "242.0.0.0/15", False),  # a subnet does not cover its supernet
        ("242.1.0.0/16", "242.2.0.0/16", False),
        ("10.96.0.0/12", "10.101.0.0/16", True),
        ("10.96.1.0/12", "10.96.0.0/16", True),  # host bits in a hand-written CIDR are dropped
        ("::/0", "10.0.0.0/8", False),  # never across IP versions
        ("0.0.0.0/0", "fd00::/64", False),
        ("not-a-cidr", "10.0.0.0/8", False),
        ("", "10.0.0.0/8", False),
    ],
)
def test_covers_is_containment(outer, inner, expected):
    assert covers(outer, inner) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("10.96.0.0/12", "10.96.0.0/16", True),
        ("10.96.0.0/16", "10.96.0.0/12", True),
        ("242.0.0.0/16", "242.1.0.0/16", False),
        ("172.16.0.0/16", "172.16.255.182", True),  # a bare address is its /32
        ("10.43.0.0/16", "fd00::/8", False),
        ("garbage", "10.0.0.0/8", False),
    ],
)
def test_overlaps(first, second, expected):
    assert overlaps(first, second) is expected


def test_addresses_and_names():
    assert contains_address(["10.43.0.0/16", "172.16.255.184/32"], "172.16.255.184")
    assert not contains_address(["10.43.0.0/16"], "172.16.255.184")
    assert parse_network(None) is None
    assert str(parse_network(" 10.43.0.0/16 ")) == "10.43.0.0/16"
    assert dashed("242.1.0.0/16") == "242.1.0.0-16"
