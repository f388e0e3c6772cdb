"""Host fixes GD501, GD601, GD602 in network namespaces against the real lab.

gdoctor runs inside the host namespace with --root pointing at the topology's temporary tree:
every sysctl, route and file it changes is the namespace's or the tree's. Each test also
proves the machine's own resolv.conf, rp_filter and routes are untouched.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from gdoctor_run import Run, assert_golden, statuses
from lab import Lab
from netns import ApiRelays, HostScenario, Topology, load_host_scenario
from scenario import SCENARIOS

pytestmark = pytest.mark.lab

PLAN_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schemas" / "fix-plan.schema.json").read_text()
)
RP_STRICT = "GD601/rp-filter-strict-on-host-interface-FAIL"
RP_PERSISTED_ONLY = "GD601/strict-only-in-persisted-files-FAIL"
NO_ROUTE = "GD602/no-route-to-global-cidr-FAIL"
ROUTE_VIA_WORKER = "GD602/route-via-node-that-is-not-a-gateway-FAIL"
OLD_DNS_IP = "GD501/resolv-conf-names-old-dns-ip-FAIL"
STALE_RESOLV = (
    b"# the DNS service's global IP, set during the first deployment\nnameserver 242.0.255.253\n"
)


@dataclasses.dataclass
class Machine:
    """The machine's own state the tests must leave alone."""

    resolv_conf: bytes | None
    rp_filter: dict[str, str]
    routes: str

    @classmethod
    def read(cls) -> Machine:
        resolv = Path("/etc/resolv.conf")
        sysctls = Path("/proc/sys/net/ipv4/conf")
        return cls(
            resolv.read_bytes() if resolv.exists() else None,
            {p.name: (p / "rp_filter").read_text() for p in sorted(sysctls.iterdir())},
            subprocess.run(
                ["ip", "route", "show", "table", "all"], capture_output=True, text=True
            ).stdout,
        )


@dataclasses.dataclass
class HostRun:
    """One built topology with the lab's objects loaded; gdoctor commands run inside."""

    hosted: HostScenario
    topology: Topology
    kubeconfig: Path
    state: Path

    def gdoctor(self, *args: str, machine_paths: bool = True) -> Run:
        argv = [sys.executable, "-m", "globalnet_doctor", *args]
        if machine_paths:
            argv += [*self.hosted.topology.args, "--kubeconfig", str(self.kubeconfig)]
            argv += ["--root", str(self.topology.root)]
            argv += ["--resolv-conf", self.topology.resolv_conf_path()]
        workdir = self.topology.workdir
        done = subprocess.run(
            self.topology.host.exec_argv(argv),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=workdir,
            env={
                **os.environ,
                "XDG_CONFIG_HOME": str(workdir),
                "HOME": str(workdir),
                "XDG_STATE_HOME": str(self.state),
            },
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def check(self, check: str) -> str:
        run = self.gdoctor("check", check, "-o", "json")
        return statuses(run.json())[check]["host"]

    def fix(self, check: str, *extra: str) -> tuple[Run, str]:
        """Applies the fix; returns the run and its journal's run id."""
        run = self.gdoctor("fix", check, "--yes", *extra)
        assert run.code == 0, run.stdout + run.stderr
        last = run.stdout.strip().splitlines()[-1]
        assert last.startswith("journal: run "), run.stdout
        return run, last.split()[2]

    def undo(self, run_id: str) -> Run:
        run = self.gdoctor("undo", run_id, machine_paths=False)
        assert run.code == 0, run.stdout + run.stderr
        return run

    def ns(self, *argv: str) -> str:
        return self.topology.host.run(*argv).stdout

    def sysctl(self, key: str) -> str:
        return self.ns("cat", f"/proc/sys/{key}").strip()

    def plan_json(self, check: str) -> dict[str, Any]:
        run = self.gdoctor("fix", check, "--dry-run", "-o", "json")
        assert run.code == 1, run.stdout + run.stderr
        plan = run.json()
        jsonschema.validate(plan, PLAN_SCHEMA)
        return plan

    def golden_text(self, plan: dict[str, Any]) -> str:
        """The plan with the temporary tree's path made stable."""
        return json.dumps(plan, indent=2).replace(str(self.topology.root), "ROOT") + "\n"


@pytest.fixture
def machine() -> Iterator[Machine]:
    before = Machine.read()
    yield before
    assert Machine.read() == before, "a host fix test changed the machine's own state"


@contextmanager
def host_run(lab: Lab, tmp_path: Path, name: str, **changes: Any) -> Iterator[HostRun]:
    hosted = load_host_scenario(SCENARIOS / name)
    if changes:
        hosted = HostScenario(hosted.scenario, dataclasses.replace(hosted.topology, **changes))
    lab.reset()
    lab.load(hosted.scenario.objects)
    workdir = tmp_path / "run"
    workdir.mkdir()
    servers = [lab.server(c) for c in lab.clusters]
    with ExitStack() as stack:
        topology = stack.enter_context(Topology(hosted.topology, workdir))
        stack.enter_context(ApiRelays(topology.host, servers, workdir / "logs"))
        yield HostRun(hosted, topology, lab.kubeconfig, workdir / "state")


@pytest.fixture
def hosts(lab: Lab, netns_ready: None, tmp_path: Path, machine: Machine) -> Any:
    def start(name: str, **changes: Any) -> Any:
        return host_run(lab, tmp_path, name, **changes)

    return start


# -- GD601 -----------------------------------------------------------------------------------


def test_gd601_sets_loose_mode_persists_it_and_undoes(hosts: Any) -> None:
    with hosts(RP_STRICT) as host:
        assert host.check("GD601") == "fail"
        plan = host.plan_json("GD601")
        (fix,) = plan["fixes"]
        assert (fix["cluster"], fix["safety"], fix["outcome"]) == (
            "host",
            "safe",
            "changes pending",
        )
        assert [s["diff"] for s in fix["steps"][:1]] == ["net.ipv4.conf.ens192.rp_filter: 1 → 2\n"]
        assert_golden("fix-plan-gd601-host.json", host.golden_text(plan))
        assert host.sysctl("net/ipv4/conf/ens192/rp_filter") == "1", "--dry-run changed it"

        run, run_id = host.fix("GD601")
        assert "GD601 rp-filter-strict on host [safe]: fixed" in run.stdout
        assert host.sysctl("net/ipv4/conf/ens192/rp_filter") == "2"
        # `all` was off (0), not strict: it is left as it is, so nothing filters more.
        assert host.sysctl("net/ipv4/conf/all/rp_filter") == "0"
        persisted = host.topology.root / "etc/sysctl.d/99-zz-gdoctor.conf"
        assert persisted.read_text().endswith(
            "net.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.ens192.rp_filter = 2\n"
        )
        assert host.check("GD601") == "pass"
        again = host.gdoctor("fix", "GD601", "--yes")
        assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

        undo = host.undo(run_id)
        assert "undone: set sysctl net.ipv4.conf.ens192.rp_filter" in undo.stdout
        assert host.sysctl("net/ipv4/conf/ens192/rp_filter") == "1"
        assert not persisted.exists()
        assert host.check("GD601") == "fail"


def test_gd601_off_when_asked(hosts: Any) -> None:
    with hosts(RP_STRICT) as host:
        host.fix("GD601", "--rp-filter", "0")
        assert host.sysctl("net/ipv4/conf/ens192/rp_filter") == "0"
        assert host.check("GD601") == "pass"


def test_gd601_strict_only_at_boot_writes_the_persisted_file_alone(hosts: Any) -> None:
    with hosts(RP_PERSISTED_ONLY) as host:
        plan = host.plan_json("GD601")
        assert [s["kind"] for s in plan["fixes"][0]["steps"]] == ["File"]
        _, run_id = host.fix("GD601")
        assert host.check("GD601") == "pass"
        # The hardening file is not edited: gdoctor's own file, sorting later, wins.
        hardening = host.topology.root / "etc/sysctl.d/10-hardening.conf"
        assert hardening.read_text() == "; CIS benchmark\nnet.ipv4.conf.all.rp_filter = 1\n"
        host.undo(run_id)
        assert not (host.topology.root / "etc/sysctl.d/99-zz-gdoctor.conf").exists()


# -- GD602 -----------------------------------------------------------------------------------


def test_gd602_adds_the_route_prints_how_to_persist_it_and_undoes(hosts: Any) -> None:
    with hosts(NO_ROUTE) as host:
        assert host.check("GD602") == "fail"
        plan = host.plan_json("GD602")
        (step,) = plan["fixes"][0]["steps"]
        assert step["diff"] == (
            "route 242.0.0.0/8: (none) → 242.0.0.0/8 via 172.16.255.183 dev ens192\n"
        )
        assert_golden("fix-plan-gd602-host.json", host.golden_text(plan))

        run, run_id = host.fix("GD602")
        assert "to persist it: NetworkManager: `nmcli connection modify" in run.stdout
        shown = host.ns("ip", "route", "show", "242.0.0.0/8")
        assert shown.strip() == "242.0.0.0/8 via 172.16.255.183 dev ens192 proto static"
        assert host.check("GD602") == "pass"
        again = host.gdoctor("fix", "GD602", "--yes")
        assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

        undo = host.undo(run_id)
        assert "undone: add route 242.0.0.0/8 via 172.16.255.183 dev ens192" in undo.stdout
        assert host.ns("ip", "route", "show", "242.0.0.0/8") == ""
        assert host.check("GD602") == "fail"


def test_gd602_replaces_a_route_through_a_worker_and_undo_puts_it_back(hosts: Any) -> None:
    with hosts(ROUTE_VIA_WORKER) as host:
        _, run_id = host.fix("GD602")
        shown = host.ns("ip", "route", "show", "242.0.0.0/8")
        assert shown.strip() == "242.0.0.0/8 via 172.16.255.183 dev ens192 proto static"
        assert host.check("GD602") == "pass"
        host.undo(run_id)
        shown = host.ns("ip", "route", "show", "242.0.0.0/8")
        assert shown.strip() == "242.0.0.0/8 via 172.16.255.185 dev ens192"


def test_undo_outside_the_namespace_changes_nothing_on_the_machine(hosts: Any) -> None:
    with hosts(NO_ROUTE) as host:
        _, run_id = host.fix("GD602")
        outside = subprocess.run(
            [sys.executable, "-m", "globalnet_doctor", "undo", run_id],
            capture_output=True,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(host.state)},
            check=False,
        )
        assert outside.returncode == 3, outside.stdout + outside.stderr
        assert "not in the network namespace the fix ran in" in outside.stdout
        # Still there in the namespace; the machine fixture proves its own routes are intact.
        assert host.ns("ip", "route", "show", "242.0.0.0/8").strip()


# -- GD501 -----------------------------------------------------------------------------------


def test_gd501_writes_the_bind_mount_in_place_and_undo_restores_it_byte_for_byte(
    hosts: Any,
) -> None:
    with hosts(OLD_DNS_IP) as host:
        source = Path("/etc/netns") / host.topology.host.name / "resolv.conf"
        assert source.read_bytes() == STALE_RESOLV
        inode = source.stat().st_ino
        plan = host.plan_json("GD501")
        (step,) = plan["fixes"][0]["steps"]
        assert (step["host"]["path"], step["host"]["how"]) == ("/etc/resolv.conf", "in-place")
        assert_golden("fix-plan-gd501-bind-mount.json", host.golden_text(plan))

        _, run_id = host.fix("GD501")
        fixed = STALE_RESOLV.replace(b"242.0.255.253", b"242.0.255.254")
        # Written through the bind mount: the source file itself changed, same inode, and the
        # namespace's /etc/resolv.conf shows it.
        assert source.read_bytes() == fixed
        assert source.stat().st_ino == inode
        assert host.ns("cat", "/etc/resolv.conf").encode() == fixed
        assert host.check("GD501") == "pass"
        backups = list((host.state / "gdoctor" / "journal" / run_id / "backups").iterdir())
        assert [b.read_bytes() for b in backups] == [STALE_RESOLV]
        again = host.gdoctor("fix", "GD501", "--yes")
        assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

        host.undo(run_id)
        assert source.read_bytes() == STALE_RESOLV
        assert host.ns("cat", "/etc/resolv.conf").encode() == STALE_RESOLV


def _symlinked(host: HostRun, target: str, data: bytes) -> Path:
    """ROOT/etc/resolv.conf as a symlink to ROOT/<target> holding ``data``."""
    root = host.topology.root
    real = root / target
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "resolv.conf").symlink_to(real)
    return real


def test_gd501_replaces_a_symlinks_target_by_rename_with_a_backup(hosts: Any) -> None:
    # No resolv.conf for the namespace: gdoctor reads ROOT/etc/resolv.conf, made a symlink.
    with hosts(OLD_DNS_IP, resolv_conf=None) as host:
        real = _symlinked(host, "run/resolver/resolv.conf", b"search lan\n" + STALE_RESOLV)
        inode = real.stat().st_ino
        plan = host.plan_json("GD501")
        (step,) = plan["fixes"][0]["steps"]
        assert step["host"]["how"] == "rename"
        assert step["host"]["realPath"] == str(real)

        _, run_id = host.fix("GD501")
        link = host.topology.root / "etc" / "resolv.conf"
        assert link.is_symlink()
        assert link.resolve() == real
        assert real.stat().st_ino != inode, "not replaced by rename"
        assert real.read_bytes() == b"search lan\n" + STALE_RESOLV.replace(
            b"242.0.255.253", b"242.0.255.254"
        )
        backup = real.with_name("resolv.conf.gdoctor-bak")
        assert backup.read_bytes() == b"search lan\n" + STALE_RESOLV
        assert host.check("GD501") == "pass"
        host.undo(run_id)
        assert real.read_bytes() == b"search lan\n" + STALE_RESOLV


def test_gd501_leaves_a_systemd_resolved_file_alone_and_prints_resolvectl(hosts: Any) -> None:
    with hosts(OLD_DNS_IP, resolv_conf=None) as host:
        real = _symlinked(host, "run/systemd/resolve/stub-resolv.conf", STALE_RESOLV)
        run = host.gdoctor("fix", "GD501", "--yes")
        assert run.code == 2, run.stdout + run.stderr
        assert "managed by systemd-resolved" in run.stdout
        assert "resolvectl dns <interface> 242.0.255.254" in run.stdout
        assert real.read_bytes() == STALE_RESOLV


def test_gd501_leaves_a_networkmanager_file_alone_and_prints_nmcli(hosts: Any) -> None:
    generated = "# Generated by NetworkManager\nnameserver 242.0.255.253\n"
    with hosts(OLD_DNS_IP, resolv_conf=generated) as host:
        run = host.gdoctor("fix", "GD501", "--yes")
        assert run.code == 2, run.stdout + run.stderr
        assert "managed by NetworkManager" in run.stdout
        assert "nmcli connection modify <connection> ipv4.dns 242.0.255.254" in run.stdout
        source = Path("/etc/netns") / host.topology.host.name / "resolv.conf"
        assert source.read_text() == generated
