"""Running host scenarios: the lab's objects, the topology, gdoctor inside, the outcome."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdoctor_run import Run, statuses
from lab import Lab
from scenario import SCENARIOS

from . import HostScenario, load_host_scenario, run_gdoctor_in
from .relays import ApiRelays
from .topology import Topology


@dataclass
class Outcome:
    scenario: HostScenario
    run: Run

    @property
    def report(self) -> dict[str, Any]:
        return self.run.json()

    @property
    def statuses(self) -> dict[str, dict[str, str]]:
        return statuses(self.report)

    def result(self, check: str, cluster: str = "host") -> dict[str, Any]:
        found = [
            r for r in self.report["results"] if r["check"] == check and r["cluster"] == cluster
        ]
        assert len(found) == 1, f"{check} on {cluster}: {found}"
        return found[0]

    def findings(self, check: str) -> list[dict[str, Any]]:
        return list(self.result(check)["findings"])

    def describe(self) -> str:
        return f"stdout:\n{self.run.stdout}\nstderr:\n{self.run.stderr}"


class HostLab:
    """Runs host scenarios: loads their objects into the lab, builds their topology, runs
    gdoctor in the host namespace through loopback relays, and tears everything down."""

    def __init__(self, lab: Lab, tmp_path: Path) -> None:
        self.lab = lab
        self.tmp_path = tmp_path
        self._runs = 0

    def run(
        self,
        name: str,
        *extra: str,
        checks: tuple[str, ...] | None = None,
        **topology_changes: Any,
    ) -> Outcome:
        """The scenario, with extra gdoctor options and topology fields changed if asked."""
        hosted = load_host_scenario(SCENARIOS / name)
        if topology_changes:
            changed = dataclasses.replace(hosted.topology, **topology_changes)
            hosted = HostScenario(hosted.scenario, changed)
        self.lab.reset()
        self.lab.load(hosted.scenario.objects)
        self._runs += 1
        workdir = self.tmp_path / f"run{self._runs}"
        workdir.mkdir()
        if checks is not None:
            chosen = checks
        elif "--all" in hosted.scenario.args:
            chosen = ()
        else:
            chosen = tuple(hosted.scenario.expect)
        args = [*chosen, *hosted.scenario.args, *hosted.topology.args, *extra, "-o", "json"]
        servers = [self.lab.server(c) for c in self.lab.clusters]
        with (
            Topology(hosted.topology, workdir) as topology,
            ApiRelays(topology.host, servers, workdir / "logs"),
        ):
            run = run_gdoctor_in(topology, self.lab.kubeconfig, args)
        outcome = Outcome(hosted, run)
        assert run.code in (0, 1, 3), outcome.describe()
        return outcome
