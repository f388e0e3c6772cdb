"""Every case of the hostile corpus, each in a fresh child process: the expected exit code, one
line on stderr, no traceback, nothing written outside its own folder, and peak memory and time
within the bounds that hold for any input (the child's own rusage, from os.wait4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostile.corpus import CASES, Case

PEAK_MEMORY_BOUND_MIB = 300
TIME_BOUND_SECONDS = 20.0
"""Bounds on any input, not performance targets: an input that reaches them is an attack that
worked (a decompression or decoding bomb, a quadratic path)."""


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    peak_mib: float
    seconds: float


RUNNER = """
import json, os, subprocess, sys, time
started = time.monotonic()
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    child = subprocess.Popen(sys.argv[4:], cwd=sys.argv[3], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = 0
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "maxrss": usage.ru_maxrss,
                  "seconds": time.monotonic() - started}))
"""
"""Spawns gdoctor and reports its own rusage. It runs as a small process of its own because
Linux counts the spawning process's memory in the child's peak (exec records the old address
space's high-water mark): spawned from pytest, every case would carry pytest's size."""


def run_bounded(args: list[str], folder: Path) -> Outcome:
    """gdoctor in a child of its own, killed past twice the time bound."""
    home = folder / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(folder),
        "KUBECONFIG": str(folder / "no-kubeconfig"),
        "COLUMNS": "120",
    }
    out, err = folder / "stdout", folder / "stderr"
    command = [sys.executable, "-m", "globalnet_doctor", *args]
    measured = subprocess.run(
        [sys.executable, "-c", RUNNER, str(out), str(err), str(home), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=2 * TIME_BOUND_SECONDS,
        check=True,
    )
    usage = json.loads(measured.stdout)
    return Outcome(
        code=usage["code"],
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
        peak_mib=usage["maxrss"] / 1024,
        seconds=usage["seconds"],
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    args = case.make(tmp_path)
    inputs = sorted(p.name for p in tmp_path.iterdir())
    outcome = run_bounded(args, tmp_path)
    assert "Traceback" not in outcome.stderr
    assert outcome.code == case.code, outcome.stderr
    if case.code == 2:
        assert outcome.stderr.startswith("gdoctor: error: "), outcome.stderr
        assert len(outcome.stderr.splitlines()) == 1, outcome.stderr
        assert outcome.stdout == ""
    assert case.says in outcome.stderr
    assert "internal error" not in outcome.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert set(written) - set(inputs) == {"home", "stdout", "stderr"}
    assert list((tmp_path / "home").iterdir()) == []
    assert outcome.peak_mib <= PEAK_MEMORY_BOUND_MIB, f"peak {outcome.peak_mib:.0f} MiB"
    assert outcome.seconds <= TIME_BOUND_SECONDS, f"took {outcome.seconds:.1f} s"
