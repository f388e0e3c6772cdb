"""The built-in fixes of gdoctor (one per check that has a remedy), registered like any
third-party fix pack through the ``globalnet_doctor.fixes`` entry point."""

from __future__ import annotations

from globalnet_doctor.fixspec import Fix

from .calico import CalicoToVxlan, DropBirdProbeFlags
from .calico_ippools import CreateRemoteIPPools
from .dns_config import RepointDnsmasq, RewriteLighthouseBlock
from .gateway_label import LabelGatewayNode
from .health_check import DisableHealthCheck
from .kube_proxy import KubeProxyToIptables

ALL_FIXES: tuple[type[Fix], ...] = (
    KubeProxyToIptables,
    CalicoToVxlan,
    DropBirdProbeFlags,
    CreateRemoteIPPools,
    LabelGatewayNode,
    DisableHealthCheck,
    RepointDnsmasq,
    RewriteLighthouseBlock,
)
