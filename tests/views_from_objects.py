"""Cluster views answered from plain objects, for unit tests of what checks and fixes judge.

Each read gets the objects a LIST or GET would return: same kind and API group, in its
namespace, of its name, matching its label selector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from globalnet_doctor.kinds import Kind, Read, selector_matches
from globalnet_doctor.view import ClusterView, ReadAnswer


def answering(read: Read, objects: Iterable[Mapping[str, Any]]) -> tuple[Any, ...]:
    """The objects ``read`` returns."""
    return tuple(
        o
        for o in objects
        if o["kind"] == read.kind.kind
        and o["apiVersion"].rpartition("/")[0] == read.kind.group
        and (read.namespace is None or o["metadata"].get("namespace") == read.namespace)
        and (read.name is None or o["metadata"]["name"] == read.name)
        and (
            read.label_selector is None
            or selector_matches(read.label_selector, o["metadata"].get("labels") or {})
        )
    )


def view_answering(
    name: str,
    reads: Sequence[Read],
    objects: Sequence[Mapping[str, Any]],
    *,
    unavailable: Mapping[Kind, str] | None = None,
    observed_at: datetime | None = None,
    default_version: str = "v1",
) -> ClusterView:
    """A view of cluster ``name`` answering ``reads`` from ``objects``; kinds in ``unavailable``
    answer with why (forbidden, CRD absent). A kind is read at its first version, else at
    ``default_version``."""
    answers = {}
    for read in reads:
        if unavailable and read.kind in unavailable:
            answers[read] = ReadAnswer(unavailable=unavailable[read.kind])
            continue
        version = read.kind.versions[0] if read.kind.versions else default_version
        group = f"{read.kind.group}/" if read.kind.group else ""
        answers[read] = ReadAnswer(answering(read, objects), api_version=f"{group}{version}")
    moment = observed_at or datetime.now(UTC)
    return ClusterView(name, f"https://{name}", moment, answers=answers)


def with_lab_webhook(cluster: str, objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``objects`` plus the ValidatingWebhookConfiguration the lab registers when they hold the
    externalip-webhook Deployment (tests/lab/core.py ``apply``), caBundle left empty."""
    from lab.webhook import configuration, registers_lab_webhook

    items = list(objects)
    return [*items, configuration(cluster, "")] if registers_lab_webhook(items) else items
