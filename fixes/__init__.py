"""The built-in fixes of gdoctor (one per check that has a remedy), registered like any
third-party fix pack through the ``globalnet_doctor.fixes`` entry point."""

from __future__ import annotations

from globalnet_doctor.fixspec import Fix

from .gd003_cluster_cidr_mismatch import SetDeclaredCidrs
from .gd101_kube_proxy_ipvs import KubeProxyToIptables
from .gd201_calico_not_vxlan import CalicoToVxlan
from .gd202_calico_bird_probes import DropBirdProbeFlags
from .gd203_calico_ippools_missing import CreateRemoteIPPools
from .gd301_externalips_admission_denied import AllowGlobalnetExternalIps
from .gd307_globalnet_cidr_broker_mismatch import RecordGlobalCidrAtBroker
from .gd309_stale_global_ip_annotation import ClearStaleGlobalIp
from .gd310_cluster_egress_ip_misconfigured import WriteNumGlobalIps
from .gd401_no_gateway_node import LabelGatewayNode
from .gd402_health_check_ping_failure import DisableHealthCheck
from .gd404_multiple_active_gateways import RestartActiveGateway
from .gd405_gateway_public_ip_unresolved import AnnotatePublicIp
from .gd408_inter_cluster_tunnel_blocked import ForceUdpEncapsulation
from .gd501_stale_resolv_conf import RepointResolvConf
from .gd502_dnsmasq_upstream_stale import RepointDnsmasq
from .gd504_coredns_clusterset_forward import RewriteLighthouseBlock
from .gd507_kubedns_clusterset_stub_missing import MergeKubeDnsStubDomains
from .gd508_openshift_dns_lighthouse_forward import RewriteOpenshiftLighthouseServers
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
    SetDeclaredCidrs,
    RestartActiveGateway,
    AnnotatePublicIp,
    RecordGlobalCidrAtBroker,
    ClearStaleGlobalIp,
    WriteNumGlobalIps,
    MergeKubeDnsStubDomains,
    RewriteOpenshiftLighthouseServers,
)
