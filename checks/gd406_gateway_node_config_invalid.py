"""GD406: a gateway node's ``gateway.submariner.io/*`` labels or annotations that make the
gateway exit at start (unknown key, malformed public-ip, port or boolean).

What the gateway accepts follows ``submariner:pkg/endpoint/local_endpoint.go`` (``addConfigFrom``:
labels, then annotations, which win), ``pkg/apis/submariner.io/v1/types.go``
(``ValidGatewayNodeConfig``), ``pkg/apis/submariner.io/v1/endpoint.go`` (``parsePort``,
``GetBackendBool``) and ``pkg/endpoint/public_ip.go`` (resolvers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.gateways import gateway_nodes
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import KubeObject

PREFIX = "gateway.submariner.io/"
PORT_KEYS = ("udp-port", "natt-discovery-port")
BOOL_KEYS = ("preferred-server",)
PUBLIC_IP = "public-ip"
VALID_KEYS = (*PORT_KEYS, PUBLIC_IP, *BOOL_KEYS)
RESOLVERS = ("ipv4", "lb", "api", "dns")
GO_BOOLS = ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


def node_config(node: KubeObject) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """key -> (where, value) of the node's gateway config (annotations win over labels), and the
    keys set as label and annotation with different values."""
    found: dict[str, tuple[str, str]] = {}
    overwritten = []
    sources = (("label", objects.labels(node)), ("annotation", objects.annotations_of(node)))
    for where, entries in sources:
        for full_key, value in sorted(entries.items()):
            if not full_key.startswith(PREFIX):
                continue
            key = full_key[len(PREFIX) :]
            if key in found and found[key][1] != str(value):
                overwritten.append(key)
            found[key] = (where, str(value))
    return found, overwritten


def port_problem(value: str) -> str | None:
    if not value.isdigit() or not value.isascii():
        return f"{value!r} is not a port number"
    port = int(value)
    return None if 1 <= port <= 65535 else f"port {value} is outside 1-65535"


def public_ip_problems(value: str, services: set[str]) -> tuple[list[str], bool]:
    """What is wrong with a public-ip value, and whether the gateway can resolve it at all."""
    problems = []
    usable = False
    for resolver in value.split(","):
        parts = resolver.strip().split(":")
        if len(parts) != 2:
            return [f"invalid format {value!r}: not method:value[,method:value...]"], False
        method, target = parts
        if method not in RESOLVERS:
            problems.append(f"unknown resolver {method!r} (known: {', '.join(RESOLVERS)})")
        elif method == "ipv4" and not _IPV4.search(target):
            problems.append(f"no IPv4 address in {resolver.strip()!r}")
        elif method == "lb" and target not in services:
            problems.append(f"lb:{target} names no Service in the Submariner namespace")
        else:
            usable = True
    return problems, usable


class GatewayNodeConfigInvalid(Check):
    id = "GD406"
    name = "gateway-node-config-invalid"
    title = "Gateway nodes carry only valid gateway.submariner.io/* labels and annotations"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "cluster"})
    explains = frozenset({"GD001", "GD403"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            Read(kinds.NODES),
            Read(kinds.SERVICES, settings.submariner_namespace),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        nodes = gateway_nodes(view)
        if not nodes:
            return
        services = {
            objects.name(s) for s in view.list(kinds.SERVICES, settings.submariner_namespace)
        }
        for node in sorted(nodes, key=objects.name):
            yield from self._node(ctx, node, services)

    def _node(self, ctx: CheckContext, node: KubeObject, services: set[str]) -> Iterable[Finding]:
        name = objects.name(node)
        config, overwritten = node_config(node)
        resources = [ref(ctx.cluster.name, kinds.NODES, node)]
        remedy = (
            f"Correct or remove the key on node {name} (kubectl label/annotate node {name} "
            f"{PREFIX}<key>-); valid keys: {', '.join(VALID_KEYS)}."
        )

        def finding(message: str, key: str, severity: Severity | None = None) -> Finding:
            where, value = config[key]
            return self.finding(
                f"gateway node {name}: {message}",
                resources=resources,
                evidence={"node": name, "key": PREFIX + key, "from": where, "value": value},
                remedy=remedy,
                severity=severity,
            )

        for key, (where, value) in config.items():
            if key not in VALID_KEYS:
                yield finding(
                    f"unknown key {PREFIX}{key} ({where}): the gateway exits with "
                    f'"unknown config annotation"',
                    key,
                )
            elif key in PORT_KEYS and (problem := port_problem(value)):
                yield finding(
                    f"{PREFIX}{key}: {problem}: the gateway fails with "
                    f'"error parsing backend config {key}"',
                    key,
                )
            elif key in BOOL_KEYS and value not in GO_BOOLS:
                yield finding(
                    f"{PREFIX}{key}: {value!r} is not a boolean: the gateway fails with "
                    f'"error parsing backend config {key}"',
                    key,
                )
            elif key == PUBLIC_IP:
                problems, usable = public_ip_problems(value, services)
                for problem in problems:
                    yield finding(
                        f"{PREFIX}{key}: {problem}"
                        + ("" if usable else ": the gateway cannot resolve its public IP"),
                        key,
                        None if not usable else Severity.WARNING,
                    )
        for key in overwritten:
            yield finding(
                f"{PREFIX}{key} is set as label and annotation with different values "
                "(the annotation wins)",
                key,
                Severity.WARNING,
            )
