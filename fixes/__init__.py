"""The built-in fixes of gdoctor (one per check that has a remedy), registered like any
third-party fix pack through the ``globalnet_doctor.fixes`` entry point."""

from __future__ import annotations

from globalnet_doctor.fixspec import Fix

from .admission_external_ips import AllowGlobalnetExternalIps
from .calico import CalicoToVxlan, DropBirdProbeFlags
from .calico_ippools import CreateRemoteIPPools
from .dns_config import RepointDnsmasq, RewriteLighthouseBlock
from .gateway_label import LabelGatewayNode
from .health_check import DisableHealthCheck
from .host_global_route import RouteGlobalCidr
from .host_resolv_conf import RepointResolvConf
from .host_rp_filter import LooseRpFilter
from .kube_proxy import KubeProxyToIptables

ALL_FIXES: tuple[type[Fix], ...] = (
    KubeProxyToIptables,
    CalicoToVxlan,
    DropBirdProbeFlags,
    CreateRemoteIPPools,
    AllowGlobalnetExternalIps,
    LabelGatewayNode,
    DisableHealthCheck,
    RepointDnsmasq,
    RewriteLighthouseBlock,
    LooseRpFilter,
    RouteGlobalCidr,
    RepointResolvConf,
)
