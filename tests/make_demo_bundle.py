"""Records the demo bundle shipped with gdoctor: the whole field report (three clusters and the
external host, every failure) from the lab, by `gdoctor bundle` itself, never by hand.

    sudo .venv/bin/python tests/make_demo_bundle.py      # rewrites globalnet_doctor/demo/

tests/host_tests/test_bundle_on_host.py checks that the shipped demo still replays to the
scenario's expected results, so a change that breaks it is seen.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from lab import Lab  # noqa: E402
from netns import load_host_scenario, run_gdoctor_in  # noqa: E402
from netns.relays import ApiRelays  # noqa: E402
from netns.topology import Topology  # noqa: E402
from scenario import SCENARIOS  # noqa: E402

DEMO_SCENARIO = SCENARIOS / "field-report" / "with-host-FAIL"
DEMO_FILE = TESTS.parent / "globalnet_doctor" / "demo" / "field-report.tar.gz"


def record(lab: Lab, workdir: Path, output: Path) -> str:
    """Loads the scenario, builds its host, runs `gdoctor bundle` there; returns its stderr."""
    hosted = load_host_scenario(DEMO_SCENARIO)
    lab.reset()
    lab.load(hosted.scenario.objects)
    servers = [lab.server(c) for c in lab.clusters]
    args = ["--probes", *hosted.topology.args, "-o", str(output)]
    with (
        Topology(hosted.topology, workdir) as topology,
        ApiRelays(topology.host, servers, workdir / "logs"),
    ):
        run = run_gdoctor_in(topology, lab.kubeconfig, args, command="bundle")
    if run.code != 0:
        raise SystemExit(f"gdoctor bundle failed ({run.code}):\n{run.stderr}")
    return run.stderr


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gdoctor-demo-") as temporary:
        workdir = Path(temporary)
        with Lab.start(workdir / "lab") as lab:
            (workdir / "host").mkdir()
            output = workdir / "field-report.tar.gz"
            print(record(lab, workdir / "host", output), file=sys.stderr)
        DEMO_FILE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(output, DEMO_FILE)
    print(DEMO_FILE)


if __name__ == "__main__":
    main()
