"""What a person sees: `gdoctor demo` (the field report's incident) on one screen, root causes
first with the commands that fix them, every line within the terminal's width (goldens at 120
and 80 columns, and with -v)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from gdoctor_run import assert_golden

from globalnet_doctor.terminal import cells


def demo(columns: int, *args: str) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50"}
    done = subprocess.run(
        [sys.executable, "-m", "globalnet_doctor", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    return done.stdout


@pytest.mark.parametrize(("columns", "args"), [(120, ()), (80, ()), (120, ("-v",))])
def test_the_demo_fits_the_terminal(columns: int, args: tuple[str, ...]) -> None:
    text = demo(columns, *args)
    name = f"demo-table-{columns}{'-v' if args else ''}.txt"
    assert_golden(name, text)
    assert max(cells(line) for line in text.splitlines()) <= columns


def test_the_demo_is_one_screen_naming_the_root_causes_and_their_fixes_first() -> None:
    lines = demo(120).splitlines()
    assert len(lines) <= 50
    assert lines[2].startswith("Fix these first")
    assert lines[3].startswith("  GD101  ")
    assert "gdoctor fix GD101" in lines[4]
    for check in ("GD101", "GD201", "GD202", "GD203", "GD301", "GD302", "GD402", "GD501",
                  "GD503", "GD601", "GD602", "GD603"):  # fmt: skip
        assert any(line.startswith(f"  {check}  ") for line in lines), check
    for cluster in ("member1", "member2", "member3", "host"):
        assert any(cluster in line for line in lines[3:]), cluster
