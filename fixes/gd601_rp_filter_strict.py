"""GD601's fix: reverse-path filtering loose (2, as Submariner sets it; 0 when asked) at
runtime on ``all`` and the interfaces that reach the gateways, persisted in sysctl.d."""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.sysctl import STRICT, interfaces_to_judge, sysctl_name
from globalnet_doctor.fixspec import (
    FileChange,
    FileWrite,
    Fix,
    FixContext,
    PlanError,
    Safety,
    Step,
    SysctlChange,
)
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import HostView, as_int, parse_sysctl_file, rp_filter_path

PERSIST_FILE = "etc/sysctl.d/99-zz-gdoctor.conf"
"""Named to sort after every usual file, so its explicit lines win at boot."""
_HEADER = (
    "# Written by gdoctor (GD601 rp-filter-strict): reverse-path filtering that lets traffic\n"
    "# from Submariner's global IPs in. `gdoctor undo RUN-ID` removes it (or restores it).\n"
)


def persist_path(view: HostView) -> str:
    return view.path_under_root(PERSIST_FILE)


def with_assignments(text: str, values: dict[str, str]) -> str:
    """The sysctl.d file with each key's line set to its value: an existing line for the key
    is rewritten where it stands, a missing one appended; every other line kept."""
    lines = text.splitlines(keepends=True)
    pending = dict(values)
    by_line = {a.line: a for a in parse_sysctl_file("", text)}
    for number, line in enumerate(lines, start=1):
        assignment = by_line.get(number)
        if assignment is not None and assignment.key in pending:
            ending = "\n" if line.endswith("\n") else ""
            lines[number - 1] = (
                f"{sysctl_name(assignment.key)} = {pending.pop(assignment.key)}{ending}"
            )
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    body = "".join(lines) or _HEADER
    return body + "".join(f"{sysctl_name(key)} = {value}\n" for key, value in pending.items())


class LooseRpFilter(Fix):
    """Safe: an idempotent edit of one kernel setting, which restarts nothing and changes no
    route: strict mode drops the packets it judges spoofed, loose mode drops those from a
    source no route leads back to at all. Only keys in strict mode are changed (a key already
    off or loose is left as it is), so no interface is filtered more than before."""

    id = "GD601"
    title = "set rp_filter loose on all and the interface that reaches the gateways, persist it"
    safety = Safety.SAFE
    order = 70

    @classmethod
    def host_files(cls, host: HostSituation, settings: Settings) -> Sequence[str]:
        return [persist_path(host.view)] if host.view is not None else []

    def plan(self, ctx: FixContext) -> list[Step]:
        host = ctx.host_view
        role = ctx.host.role if ctx.host is not None else None
        interfaces = interfaces_to_judge(host, ctx.host_facts, role)
        if not interfaces:
            raise PlanError("no interface of this machine reaches a gateway node")
        mode = str(ctx.options.rp_filter)
        steps: list[Step] = []
        wanted: dict[str, str] = {}
        strict_at_boot = False
        for name in ["all", *interfaces]:
            key = rp_filter_path(name)
            runtime = host.sysctl(key)
            persisted = host.persisted(key)
            if name != "all" and persisted is None:
                persisted = host.persisted(rp_filter_path("default"))
            boot = as_int(persisted.value) if persisted is not None else None
            strict_at_boot |= boot == STRICT
            value = runtime
            if as_int(runtime) == STRICT:
                value = mode
                why = interfaces.get(
                    name, "the kernel applies the stronger of all and the interface"
                )
                steps.append(
                    SysctlChange(
                        key,
                        host.sysctl_proc_path(key),
                        runtime,
                        mode,
                        f"{_mode(mode)} instead of strict: {why}",
                    )
                )
            if value is not None:
                wanted[key] = value
        if not steps and not strict_at_boot:
            return []
        path = persist_path(host)
        current = ctx.files.get(path)
        if current is None:
            raise PlanError(f"{path} was not read")
        if current.error is not None:
            raise PlanError(f"cannot read {path}: {current.error}")
        before = current.data
        text = (before or b"").decode("utf-8", "surrogateescape")
        after = with_assignments(text, wanted).encode("utf-8", "surrogateescape")
        if after != before:
            steps.append(
                FileChange(
                    path,
                    current.real_path,
                    before,
                    after,
                    FileWrite.RENAME,
                    "persist the values, so that boot does not bring strict mode back "
                    "(this file sorts after the others; its explicit lines win)",
                )
            )
        return steps


def _mode(value: str) -> str:
    return {"0": "off (0)", "2": "loose (2)"}.get(value, value)
