"""Running gdoctor from tests: in-process (fast, for scenario matrices) or as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from globalnet_doctor.cli import main

GOLDEN = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def _machine_safe(args: tuple[str, ...]) -> list[str]:
    """Tests in the machine's own namespace never judge (or probe from, or fix) the machine
    itself: `check` and `fix` get --no-host unless the test chose. Host behaviour is tested in
    network namespaces (tests/host_tests), where `--host` is explicit."""
    chosen = {"--host", "--no-host", "--root", "--bundle"} & set(args)
    # `fix` reads (and would repair) the machine like `check`: never this machine's.
    if args and args[0] in ("check", "fix") and not chosen:
        return [*args, "--no-host"]
    return list(args)


def gdoctor(*args: str) -> Run:
    """In-process, through click, as the console script would run it."""
    result = CliRunner().invoke(main, _machine_safe(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def gdoctor_process(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """A separate process: what an operator's shell sees, tracebacks included."""
    completed = subprocess.run(
        [sys.executable, "-m", "globalnet_doctor", *_machine_safe(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def statuses(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """check id -> cluster -> status."""
    table: dict[str, dict[str, str]] = {}
    for result in report["results"]:
        table.setdefault(result["check"], {})[result["cluster"]] = result["status"]
    return table


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what changes from run to run (times, ports, the tool version)."""
    copy = json.loads(json.dumps(report))
    copy.pop("startedAt")
    copy.pop("durationMs")
    copy["tool"].pop("version")
    for cluster in copy["clusters"]:
        cluster.pop("observedAt")
        cluster["server"] = "<server>"
    for result in copy["results"]:
        result.pop("durationMs")
    return copy


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("GDOCTOR_UPDATE_GOLDENS"):
        path.write_text(actual)
    assert path.exists(), f"no golden {path}; run with GDOCTOR_UPDATE_GOLDENS=1 and review it"
    assert actual == path.read_text(), f"{path} differs (GDOCTOR_UPDATE_GOLDENS=1 to rewrite)"


def run_id_of(run: Run) -> str:
    """The journal run id `gdoctor fix` prints on its last line."""
    return run.stdout.strip().splitlines()[-1].split()[2]


def without_timings(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between a live run and its replay: the timings."""
    copy = json.loads(json.dumps(report))
    copy.pop("startedAt")
    copy.pop("durationMs")
    for result in copy["results"]:
        result.pop("durationMs")
    return copy


def without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a fix's undo must restore it: server-managed fields and status left out."""
    copy = json.loads(json.dumps(obj))
    for key in ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp"):
        copy["metadata"].pop(key, None)
    # The apiserver's DaemonSet strategy stamps this on every template change.
    copy["metadata"].get("annotations", {}).pop("deprecated.daemonset.template.generation", None)
    copy.pop("status", None)
    return copy
