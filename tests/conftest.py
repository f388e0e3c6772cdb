"""Shared fixtures: the real lab (kube-apiserver + etcd), scenarios, goldens.

Markers (pyproject.toml): ``lab`` for tests that need the real lab (root, the cached
kube-apiserver), ``netns`` for those that also build network namespaces (root, iproute2,
dnsmasq). A test that uses the lab or network-namespace fixtures gets the marker here even when
its module forgot it, so ``-m 'not lab and not netns'`` (the quick loop) never starts either.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# The lab and the scenario helpers are plain folders under tests/, imported by name.
sys.path.insert(0, str(TESTS))

pytest_plugins = ["lab_fixtures"]

_LAB_FIXTURES = {"lab", "lab_session"}
_NETNS_FIXTURES = {"netns_ready", "host_lab"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Before ``-m`` selects: the markers the fixtures a test uses imply."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & (_LAB_FIXTURES | _NETNS_FIXTURES):
            item.add_marker(pytest.mark.lab)
        if fixtures & _NETNS_FIXTURES:
            item.add_marker(pytest.mark.netns)
