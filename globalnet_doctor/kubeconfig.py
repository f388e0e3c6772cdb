"""Which clusters a run covers: kubeconfig files read the way kubectl reads them.

Pure parsing (PyYAML, no Kubernetes client), so bad input gets a one-line error before any
connection is attempted. Credentials are left to the adapter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from globalnet_doctor.errors import UsageError
from globalnet_doctor.terminal import printable

IN_CLUSTER = "in-cluster"
_SERVICE_HOST = "KUBERNETES_SERVICE_HOST"
_SERVICE_PORT = "KUBERNETES_SERVICE_PORT"


@dataclass(frozen=True, slots=True)
class Target:
    """One cluster to read: a kubeconfig context (or the in-cluster service account)."""

    name: str
    server: str
    kubeconfig: str | None
    """The kubeconfig path list (os.pathsep-joined) the context comes from; None in-cluster."""


@dataclass(frozen=True, slots=True)
class SkippedContext:
    """A context of the kubeconfig that cannot be used (its cluster has no server): skipped
    with a warning, as kubectl fails only when such a context is used."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Targets:
    targets: tuple[Target, ...]
    warnings: tuple[str, ...] = ()
    skipped: tuple[SkippedContext, ...] = ()


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    """``--kubeconfig``, else ``KUBECONFIG`` (several files), else ``~/.kube/config``."""
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def resolve_targets(
    explicit: str | None, contexts: Sequence[str], in_cluster: bool = False
) -> Targets:
    if in_cluster:
        return Targets((_in_cluster_target(),))
    paths = kubeconfig_paths(explicit)
    existing = [p for p in paths if p.is_file()]
    if explicit and not existing:
        if paths[0].is_dir():
            raise UsageError(f"kubeconfig {explicit} is a directory, not a file")
        raise UsageError(f"kubeconfig {explicit} does not exist")
    if not existing:
        if os.environ.get(_SERVICE_HOST):
            return Targets((_in_cluster_target(),))
        looked = ", ".join(str(p) for p in paths)
        raise UsageError(f"no kubeconfig found (looked at {looked}); pass --kubeconfig")
    merged = _merge([(p, _load(p)) for p in existing])
    joined = os.pathsep.join(str(p) for p in existing)
    return _select(merged, contexts, joined)


@dataclass(frozen=True, slots=True)
class _Merged:
    context_order: tuple[str, ...]
    contexts: Mapping[str, Mapping[str, Any]]
    clusters: Mapping[str, Mapping[str, Any]]


def _load(path: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read kubeconfig {path}: {exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise UsageError(f"kubeconfig {path} is not valid YAML: {printable(first, 200)}") from None
    except RecursionError:
        raise UsageError(f"kubeconfig {path} is nested too deeply to be a kubeconfig") from None
    if document is None:
        return {}
    if not isinstance(document, dict) or not _is_kubeconfig(document):
        raise UsageError(f"{path} is not a kubeconfig (expected kind: Config with contexts)")
    return document


def _is_kubeconfig(document: Mapping[str, Any]) -> bool:
    if document.get("kind") not in (None, "Config"):
        return False
    return all(isinstance(document.get(k) or [], list) for k in ("contexts", "clusters", "users"))


def _named_entries(document: Mapping[str, Any], key: str, path: Path) -> list[tuple[str, Any]]:
    entries = []
    for entry in document.get(key) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise UsageError(f"kubeconfig {path}: every entry of {key} needs a name")
        body = entry.get(key[:-1]) or {}
        if not isinstance(body, dict):
            name = printable(entry["name"], 80)
            raise UsageError(f"kubeconfig {path}: {key[:-1]} {name} is not a mapping")
        entries.append((entry["name"], body))
    return entries


def _merge(documents: list[tuple[Path, Mapping[str, Any]]]) -> _Merged:
    # kubectl's rule: the first file that defines a name wins.
    order: list[str] = []
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, Mapping[str, Any]] = {}
    for path, document in documents:
        for name, body in _named_entries(document, "contexts", path):
            if name not in contexts:
                contexts[name] = body
                order.append(name)
        for name, body in _named_entries(document, "clusters", path):
            clusters.setdefault(name, body)
    return _Merged(tuple(order), contexts, clusters)


def _select(merged: _Merged, wanted: Sequence[str], joined: str) -> Targets:
    if not merged.context_order:
        raise UsageError("the kubeconfig defines no context")
    unknown = [c for c in wanted if c not in merged.contexts]
    if unknown:
        known = ", ".join(merged.context_order)
        raise UsageError(f"unknown context {', '.join(unknown)} (the kubeconfig has: {known})")
    names = list(dict.fromkeys(wanted)) if wanted else list(merged.context_order)
    targets: list[Target] = []
    warnings: list[str] = []
    skipped: list[SkippedContext] = []
    by_server: dict[str, str] = {}
    for name in names:
        cluster_name = merged.contexts[name].get("cluster")
        cluster = merged.clusters.get(str(cluster_name))
        if cluster is None or not cluster.get("server"):
            reason = f"context {name} names cluster {cluster_name!r}, which has no server"
            if wanted:
                raise UsageError(reason)
            skipped.append(SkippedContext(name, reason))
            warnings.append(f"{reason}: skipped")
            continue
        if not isinstance(cluster["server"], str):
            raise UsageError(f"cluster {cluster_name!r} of context {name}: server is not a URL")
        server = cluster["server"].rstrip("/")
        if server in by_server:
            warnings.append(
                f"contexts {by_server[server]} and {name} reach the same server {server}; "
                f"using {by_server[server]}"
            )
            continue
        by_server[server] = name
        targets.append(Target(name, server, joined))
    if not targets:
        raise UsageError("no context of the kubeconfig names a cluster with a server")
    return Targets(tuple(targets), tuple(warnings), tuple(skipped))


def _in_cluster_target() -> Target:
    host = os.environ.get(_SERVICE_HOST)
    if not host:
        raise UsageError(f"--in-cluster needs {_SERVICE_HOST} (not running in a pod?)")
    port = os.environ.get(_SERVICE_PORT, "443")
    host = f"[{host}]" if ":" in host else host
    return Target(IN_CLUSTER, f"https://{host}:{port}", None)
