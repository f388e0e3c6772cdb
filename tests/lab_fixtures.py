"""pytest fixtures for the real lab: one control plane per session, a clean state per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from lab import Lab, LabUnavailable
from scenario import Scenario


def lab_required() -> bool:
    """CI (and the README's test command) must run the lab tests, never skip them."""
    return bool(os.environ.get("GDOCTOR_REQUIRE_LAB") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def lab_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    try:
        lab = Lab.start(tmp_path_factory.mktemp("lab"))
    except LabUnavailable as exc:
        if lab_required():
            pytest.fail(f"the lab is required here but cannot start: {exc}", pytrace=False)
        pytest.skip(f"LAB TESTS SKIPPED, the lab cannot start: {exc} (run tests/bootstrap.sh)")
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def lab(lab_session: Lab) -> Lab:
    """The lab, emptied of whatever an earlier test loaded."""
    lab_session.reset()
    return lab_session


def load(lab: Lab, scenario: Scenario) -> None:
    lab.load(scenario.objects)
