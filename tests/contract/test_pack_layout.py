"""The built-in packs are laid out so a reader finds everything about a check by its id: one
module per check named ``<id>_<name>``, its fix in the module of the same name in the fix pack,
and its page in docs/checks/."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

import globalnet_doctor_checks
import globalnet_doctor_fixes
import pytest
from globalnet_doctor_checks import CHECK_PACK
from globalnet_doctor_fixes import ALL_FIXES

from globalnet_doctor.spec import Check

DOCS = Path(__file__).resolve().parents[2] / "docs" / "checks"
CHECKS = sorted(CHECK_PACK.checks, key=lambda c: c.id)


def basename(module: str) -> str:
    return module.rpartition(".")[2]


def expected_basename(check: type[Check]) -> str:
    return f"{check.id.lower()}_{check.name.replace('-', '_')}"


def pack_modules(package: object) -> set[str]:
    paths = package.__path__  # type: ignore[attr-defined]
    return {m.name for m in pkgutil.iter_modules(paths) if not m.name.startswith("_")}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_a_check_lives_in_the_module_named_by_its_id_and_name(check: type[Check]) -> None:
    assert check.__module__ == f"globalnet_doctor_checks.{expected_basename(check)}"


@pytest.mark.parametrize("check", [c for c in CHECKS if c.fix], ids=lambda c: c.id)
def test_a_checks_fix_lives_in_the_fix_module_of_the_same_name(check: type[Check]) -> None:
    module = f"globalnet_doctor_fixes.{basename(check.__module__)}"
    assert module in sys.modules, f"{check.id} declares fix {check.fix}; no module {module}"
    held = [f for f in ALL_FIXES if f.__module__ == module and f.id == check.fix]
    assert held, f"{module} holds no fix {check.fix}"


def test_every_fix_module_is_named_after_a_check() -> None:
    check_modules = {basename(c.__module__) for c in CHECKS}
    assert pack_modules(globalnet_doctor_fixes) - check_modules == set()


def test_every_check_module_holds_a_check() -> None:
    check_modules = {basename(c.__module__) for c in CHECKS}
    assert pack_modules(globalnet_doctor_checks) - check_modules == set()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_check_has_a_docs_page(check: type[Check]) -> None:
    assert (DOCS / f"{check.id}.md").is_file()
