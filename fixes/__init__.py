"""The built-in fixes of gdoctor (one per check that has a remedy), registered like any
third-party fix pack through the ``globalnet_doctor.fixes`` entry point."""

from __future__ import annotations

from globalnet_doctor.fixspec import Fix

from .gd101_kube_proxy_ipvs import KubeProxyToIptables
from .gd201_calico_not_vxlan import CalicoToVxlan
from .gd202_calico_bird_probes import DropBirdProbeFlags
from .gd203_calico_ippools_missing import CreateRemoteIPPools
from .gd301_externalips_admission_denied import AllowGlobalnetExternalIps
from .gd401_no_gateway_node import LabelGatewayNode
from .gd402_health_check_ping_failure import DisableHealthCheck
from .gd408_inter_cluster_tunnel_blocked import ForceUdpEncapsulation
from .gd501_stale_resolv_conf import RepointResolvConf
from .gd502_dnsmasq_upstream_stale import RepointDnsmasq
from .gd504_coredns_clusterset_forward import RewriteLighthouseBlock
from .gd601_rp_filter_strict import LooseRpFilter
from .gd602_globalcidr_route_missing import RouteGlobalCidr

ALL_FIXES: tuple[type[Fix], ...] = (
    KubeProxyToIptables,
    CalicoToVxlan,
    DropBirdProbeFlags,
    CreateRemoteIPPools,
    AllowGlobalnetExternalIps,
    LabelGatewayNode,
    DisableHealthCheck,
    ForceUdpEncapsulation,
    RepointDnsmasq,
    RewriteLighthouseBlock,
    LooseRpFilter,
    RouteGlobalCidr,
    RepointResolvConf,
)
