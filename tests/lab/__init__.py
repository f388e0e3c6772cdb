"""Test lab: real kube-apiservers (v1.20) for three clusters on loopback, no controllers.

    from lab import Lab
    with Lab.start(tmp_path) as lab:
        lab.apply("member1", [pod, global_ingress_ip])
        ...
        lab.reset()

See README.md in this directory.
"""

from __future__ import annotations

from .client import KubeClient
from .core import CLUSTERS, Lab, default_binary, iter_objects
from .crds import LAB_CRDS, CrdSpec
from .errors import ApiError, LabError, LabStartError, LabUnavailable
from .fixtures import lab_fixture_factory, lab_required
from .kubelet import LabKubelet, LogRequest
from .loader import LOADED_LABEL
from .webhook import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAME,
    WEBHOOK_NAMESPACE,
    AdmissionRecord,
    WebhookPolicy,
)

__all__ = [
    "CLUSTERS",
    "LAB_CRDS",
    "LOADED_LABEL",
    "WEBHOOK_DEPLOYMENT",
    "WEBHOOK_NAME",
    "WEBHOOK_NAMESPACE",
    "AdmissionRecord",
    "ApiError",
    "CrdSpec",
    "KubeClient",
    "Lab",
    "LabError",
    "LabKubelet",
    "LabStartError",
    "LabUnavailable",
    "LogRequest",
    "WebhookPolicy",
    "default_binary",
    "iter_objects",
    "lab_fixture_factory",
    "lab_required",
]
