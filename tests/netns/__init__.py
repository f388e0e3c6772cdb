"""Host scenarios in network namespaces: the topology, the relays to the lab, gdoctor inside.

A host scenario is a scenario folder (tests/scenarios/...) whose scenario.yaml has a ``host:``
section describing the machine's network (see ``HostTopology``, whose defaults serve the
healthy base's exports: the DNS service, nginx, the selector-less ``node`` and the headless
``nginx-ss``). tests/host_tests runs them; the lab scenario test leaves them out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from gdoctor_run import Run
from scenario import Scenario, load_scenario, scenario_paths

from .relays import ApiRelays
from .topology import (
    HostTopology,
    Namespace,
    NetnsUnavailable,
    Topology,
    remove_stale_namespaces,
    require_netns,
)

__all__ = [
    "ApiRelays",
    "HostScenario",
    "HostTopology",
    "Namespace",
    "NetnsUnavailable",
    "Topology",
    "host_scenario_paths",
    "is_host_scenario",
    "load_host_scenario",
    "remove_stale_namespaces",
    "require_netns",
    "run_gdoctor_in",
]


@dataclass(frozen=True)
class HostScenario:
    scenario: Scenario
    topology: HostTopology

    @property
    def name(self) -> str:
        return self.scenario.name


def is_host_scenario(path: Path) -> bool:
    meta = yaml.safe_load((path / "scenario.yaml").read_text()) or {}
    return "host" in meta


def host_scenario_paths() -> list[Path]:
    return [p for p in scenario_paths() if is_host_scenario(p)]


def load_host_scenario(path: Path) -> HostScenario:
    meta = yaml.safe_load((path / "scenario.yaml").read_text()) or {}
    return HostScenario(load_scenario(path), HostTopology.from_mapping(meta.get("host") or {}))


def run_gdoctor_in(
    topology: Topology,
    kubeconfig: Path,
    args: Sequence[str],
    timeout: float = 120,
    command: str = "check",
) -> Run:
    """``gdoctor check`` (or ``bundle``) inside the topology's host namespace, reading files
    under its root."""
    argv = [
        sys.executable,
        "-m",
        "globalnet_doctor",
        command,
        *args,
        "--kubeconfig",
        str(kubeconfig),
        "--root",
        str(topology.root),
        "--resolv-conf",
        topology.resolv_conf_path(),
    ]
    dropped = topology.spec.drop_capabilities
    if dropped:
        argv = ["setpriv", "--bounding-set", ",".join(f"-{c}" for c in dropped), "--", *argv]
    completed = subprocess.run(
        topology.host.exec_argv(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        # No ./gdoctor.toml or ~/.config/gdoctor may leak site settings into the run.
        cwd=topology.workdir,
        env={**os.environ, "XDG_CONFIG_HOME": str(topology.workdir), "HOME": str(topology.workdir)},
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)
