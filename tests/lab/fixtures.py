"""A ready-made pytest fixture for the lab.

    # tests/conftest.py
    from lab import lab_fixture_factory
    lab = lab_fixture_factory()              # session-scoped fixture named "lab"

With GDOCTOR_REQUIRE_LAB=1 (tests/run.sh, CI) a lab that cannot start fails the tests instead
of skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Literal

from .core import Lab
from .errors import LabUnavailable


def lab_required() -> bool:
    return os.environ.get("GDOCTOR_REQUIRE_LAB", "") not in ("", "0")


Scope = Literal["session", "package", "module", "class", "function"]


def lab_fixture_factory(scope: Scope = "session", name: str = "lab") -> object:
    """A pytest fixture yielding a started Lab for `scope`, stopped afterwards."""
    import pytest  # only test code imports this module; the lab itself does not need pytest

    @pytest.fixture(scope=scope, name=name)
    def _lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
        try:
            lab = Lab.start(tmp_path_factory.mktemp("lab"))
        except LabUnavailable as err:
            if lab_required():
                pytest.fail(f"lab required (GDOCTOR_REQUIRE_LAB) but unavailable: {err}")
            pytest.skip(f"lab unavailable: {err}")
        with lab:
            yield lab

    return _lab
