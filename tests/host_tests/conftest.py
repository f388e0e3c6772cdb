"""Fixtures of the host tests: network namespaces (root only) next to the real lab."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import Lab
from lab_fixtures import lab_required
from netns import NetnsUnavailable, remove_stale_namespaces, require_netns
from netns.hostlab import HostLab


@pytest.fixture(scope="session")
def netns_ready() -> None:
    """Network namespaces can be built: root, iproute2, dnsmasq, socat. Elsewhere the host
    tests skip loudly, and fail where they are required (CI, GDOCTOR_REQUIRE_LAB)."""
    try:
        require_netns()
    except NetnsUnavailable as exc:
        if lab_required():
            pytest.fail(f"the host tests are required here but cannot run: {exc}", pytrace=False)
        pytest.skip(f"HOST TESTS SKIPPED, network namespaces unavailable: {exc}")
    remove_stale_namespaces()


@pytest.fixture
def host_lab(lab: Lab, netns_ready: None, tmp_path: Path) -> HostLab:
    return HostLab(lab, tmp_path)
