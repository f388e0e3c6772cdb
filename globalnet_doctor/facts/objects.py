"""Typed access to the parts of a Kubernetes object read as raw JSON.

Objects arrive as plain dictionaries in which any section may be absent or ``null``; these
accessors answer an empty mapping (or an empty string) then, so callers never chain
``(obj.get("spec") or {})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def section(obj: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    """``obj[key]`` when it is a mapping, else an empty one."""
    value = obj.get(key) if obj else None
    if type(value) is dict:  # what JSON decodes to: skips the slower abstract-class check
        return value
    return value if isinstance(value, Mapping) else {}


def metadata(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(obj, "metadata")


def spec(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(obj, "spec")


def status(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(obj, "status")


def data(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A ConfigMap's (or Secret's) ``data``."""
    return section(obj, "data")


def pod_template_spec(workload: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The pod spec of a Deployment's or DaemonSet's template."""
    return spec(section(spec(workload), "template"))


def name(obj: Mapping[str, Any] | None) -> str:
    return str(metadata(obj).get("name") or "")


def namespace(obj: Mapping[str, Any] | None) -> str:
    return str(metadata(obj).get("namespace") or "")


def labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    return section(metadata(obj), "labels")


# Not ``annotations``: that name is taken by ``from __future__ import annotations``.
def annotations_of(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    return section(metadata(obj), "annotations")


def namespaced_name(obj: Mapping[str, Any] | None) -> str:
    """``namespace/name``, as messages and evidence name an object."""
    return f"{namespace(obj)}/{name(obj)}"
