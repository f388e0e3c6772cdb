"""GD501's fix: resolv.conf names the DNS service's current global IP.

The nameserver line is rewritten and every other byte kept, with a backup. A symlink is
followed and its target replaced by rename in the target's directory; a bind mount (what
``ip netns exec`` and container runtimes make of resolv.conf) cannot be renamed over, so it is
written in place and fsynced. A file that systemd-resolved, resolvconf or NetworkManager
manages is left alone: they would overwrite the edit, so the fix prints their commands instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.dns import dns_service_for, managed_by
from globalnet_doctor.fixspec import (
    FileChange,
    FileWrite,
    Fix,
    FixContext,
    PlanError,
    Safety,
    Step,
)
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import RESOLV_CONF_MAX_NAMESERVERS, parse_resolv_conf

BACKUP_SUFFIX = ".gdoctor-bak"
_NAMESERVER = re.compile(r"^[ \t]*nameserver[ \t]+(?P<ip>\S+)")


def with_nameserver(text: str, current: str, stale: Sequence[str]) -> str:
    """resolv.conf naming ``current`` among the nameservers the resolver uses: the first stale
    line rewritten to it (later stale lines dropped); without a stale line, ``current`` put
    before the first nameserver line (a copy beyond the third line, which glibc ignores,
    dropped). Every other line is kept byte for byte."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    out: list[str] = []
    placed = False
    for line in lines:
        match = _NAMESERVER.match(line)
        if match is not None and match["ip"] in stale:
            if not placed:
                out.append(line[: match.start("ip")] + current + line[match.end("ip") :])
                placed = True
            continue
        out.append(line)
    if placed:
        return "".join(out)
    used = parse_resolv_conf("", "".join(out)).nameservers[:RESOLV_CONF_MAX_NAMESERVERS]
    if current in used:
        return "".join(out)
    kept = [line for line in out if not ((m := _NAMESERVER.match(line)) and m["ip"] == current)]
    first = next((i for i, line in enumerate(kept) if _NAMESERVER.match(line)), len(kept))
    kept.insert(first, f"nameserver {current}\n")
    return "".join(kept)


class RepointResolvConf(Fix):
    """Safe: one line of one file, with a backup and the prior bytes journaled."""

    id = "GD501"
    title = "point resolv.conf's nameserver line at the DNS service's current global IP"
    safety = Safety.SAFE
    order = 72

    @classmethod
    def host_files(cls, host: HostSituation, settings: Settings) -> Sequence[str]:
        return [host.view.resolv_conf.path] if host.view is not None else []

    def plan(self, ctx: FixContext) -> list[Step]:
        host = ctx.host_view
        resolv = host.resolv_conf
        manager = managed_by(resolv)
        finding = ctx.result.findings[0] if ctx.result.findings else None
        if manager is not None:
            steps = finding.remediation.text if finding and finding.remediation else ""
            raise PlanError(
                f"{resolv.path} is managed by {manager}, which would overwrite an edit: gdoctor "
                f"changes nothing. {steps}".strip()
            )
        facts = ctx.host_facts
        owner = ctx.host.owner.context if ctx.host is not None else None
        dns = dns_service_for(facts, owner, ctx.settings.dns_service)
        if dns.global_ip is None:
            return []
        read = ctx.files.get(resolv.path)
        if read is None or read.error is not None:
            why = read.error if read is not None else "not read"
            raise PlanError(f"cannot read {resolv.path}: {why}")
        current = dns.global_ip
        stale = [
            ip
            for ip in dict.fromkeys(resolv.nameservers)
            if ip != current and facts.in_global_space(ip) and facts.holder_of(ip) is None
        ]
        before = read.data
        text = (before or b"").decode("utf-8", "surrogateescape")
        after = with_nameserver(text, current, stale).encode("utf-8", "surrogateescape")
        if after == before:
            return []
        in_place = read.mount_point and before is not None
        how = FileWrite.IN_PLACE if in_place else FileWrite.RENAME
        service = f"{dns.namespace}/{dns.name} of {dns.context}"
        return [
            FileChange(
                path=resolv.path,
                real_path=read.real_path,
                before=before,
                after=after,
                how=how,
                why=f"name {current}, the global IP of the DNS Service {service}"
                + (f", instead of {', '.join(stale)}" if stale else "")
                + ("; a bind mount: written in place" if in_place else ""),
                # Next to a file replaced by rename (where an operator looks for it); a bind
                # mount's directory is not this file's: its backup goes to the journal.
                backup=None if in_place or before is None else read.real_path + BACKUP_SUFFIX,
            )
        ]
