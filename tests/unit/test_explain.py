"""`gdoctor explain` ends by naming the installed modules of the check and of its fix, found
through the registry, so a third-party pack reads the same as the built-in one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor import registry
from globalnet_doctor.fixspec import Fix, FixContext, Safety, Step
from globalnet_doctor.model import Severity
from globalnet_doctor.spec import Check, CheckPack


def test_explain_names_the_modules_of_the_check_and_of_its_fix():
    run = gdoctor("explain", "GD101")
    assert run.code == 0
    assert run.stdout.endswith(
        "\n## Installed modules\n\n"
        "Check: globalnet_doctor_checks.gd101_kube_proxy_ipvs (KubeProxyIpvs)\n"
        "Fix: globalnet_doctor_fixes.gd101_kube_proxy_ipvs (KubeProxyToIptables)\n"
    )


def test_explain_of_a_check_without_a_fix_says_so():
    run = gdoctor("explain", "submariner-not-ready")
    assert run.stdout.endswith(
        "Check: globalnet_doctor_checks.gd001_submariner_not_ready (SubmarinerNotReady)\n"
        "Fix: none\n"
    )


class ThirdPartyCheck(Check):
    id = "XY001"
    name = "third-party"
    title = "A check from another distribution"
    severity = Severity.INFO
    fix = "XY001"


class ThirdPartyFix(Fix):
    id = "XY001"
    title = "Its fix"
    safety = Safety.SAFE

    def plan(self, ctx: FixContext) -> list[Step]:
        return []


@dataclass(frozen=True)
class FakeEntryPoint:
    name: str
    value: str
    loaded: Any

    def load(self) -> Any:
        return self.loaded


def test_a_third_party_pack_is_named_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    pack = CheckPack(checks=(ThirdPartyCheck,))
    groups = {
        registry.CHECK_GROUP: [FakeEntryPoint("third", "third:PACK", pack)],
        registry.FIX_GROUP: [FakeEntryPoint("third", "third:FIXES", (ThirdPartyFix,))],
    }
    monkeypatch.setattr(registry, "entry_points", lambda group: groups[group])
    monkeypatch.setattr(registry.Registry, "doc_page", lambda self, check: "# XY001\n")
    run = gdoctor("explain", "XY001")
    assert run.code == 0
    assert run.stdout == (
        "# XY001\n\n## Root causes\n\nIts failure can explain: nothing declared\n"
        "Explained by: nothing declared\n\n## Installed modules\n\n"
        f"Check: {__name__} (ThirdPartyCheck)\n"
        f"Fix: {__name__} (ThirdPartyFix)\n"
    )
