"""The built-in checks of gdoctor, registered like any third-party check pack."""

from __future__ import annotations

from importlib.resources import files

from globalnet_doctor.spec import CheckPack

from .gd001_submariner_not_ready import SubmarinerNotReady
from .gd002_network_discovery_failed import NetworkDiscoveryFailed
from .gd003_cluster_cidr_mismatch import ClusterCidrMismatch
from .gd004_component_version_skew import ComponentVersionSkew
from .gd101_kube_proxy_ipvs import KubeProxyIpvs
from .gd201_calico_not_vxlan import CalicoNotVxlan
from .gd202_calico_bird_probes import CalicoBirdProbes
from .gd203_calico_ippools_missing import CalicoIppoolsMissing
from .gd205_cni_detected_generic import CniDetectedGeneric
from .gd301_externalips_admission_denied import ExternalIpsAdmissionDenied
from .gd302_global_ingress_ip_missing import GlobalIngressIpMissing
from .gd303_global_ip_inconsistent import GlobalIpInconsistent
from .gd304_cidr_overlap import CidrOverlap
from .gd305_export_without_selector import ExportWithoutSelector
from .gd306_external_host_outside_cluster_cidr import ExternalHostOutsideClusterCidr
from .gd307_globalnet_cidr_broker_mismatch import GlobalnetCidrBrokerMismatch
from .gd308_globalnet_pool_exhausted import GlobalnetPoolExhausted
from .gd309_stale_global_ip_annotation import StaleGlobalIpAnnotation
from .gd310_cluster_egress_ip_misconfigured import ClusterEgressIpMisconfigured
from .gd311_global_ip_double_allocation import GlobalIpDoubleAllocation
from .gd312_global_cidr_in_use_locally import GlobalCidrInUseLocally
from .gd401_no_gateway_node import NoGatewayNode
from .gd402_health_check_ping_failure import HealthCheckPingFailure
from .gd403_connection_not_established import ConnectionNotEstablished
from .gd404_multiple_active_gateways import MultipleActiveGateways
from .gd405_gateway_public_ip_unresolved import GatewayPublicIpUnresolved
from .gd406_gateway_node_config_invalid import GatewayNodeConfigInvalid
from .gd407_stale_remote_endpoint import StaleRemoteEndpoint
from .gd408_inter_cluster_tunnel_blocked import InterClusterTunnelBlocked
from .gd501_stale_resolv_conf import StaleResolvConf
from .gd502_dnsmasq_upstream_stale import DnsmasqUpstreamStale
from .gd503_clusterset_name_resolution import ClustersetNameResolution
from .gd504_coredns_clusterset_forward import CorednsClustersetForward
from .gd506_lighthouse_dns_config_not_loaded import LighthouseDnsConfigNotLoaded
from .gd507_kubedns_clusterset_stub_missing import KubednsClustersetStubMissing
from .gd508_openshift_dns_lighthouse_forward import OpenshiftDnsLighthouseForward
from .gd601_rp_filter_strict import RpFilterStrict
from .gd602_globalcidr_route_missing import GlobalCidrRouteMissing
from .gd603_global_ip_unreachable import GlobalIpUnreachable

CHECK_PACK = CheckPack(
    checks=(
        SubmarinerNotReady,
        KubeProxyIpvs,
        CalicoNotVxlan,
        CalicoBirdProbes,
        CalicoIppoolsMissing,
        ExternalIpsAdmissionDenied,
        GlobalIngressIpMissing,
        GlobalIpInconsistent,
        CidrOverlap,
        ExportWithoutSelector,
        ExternalHostOutsideClusterCidr,
        NoGatewayNode,
        HealthCheckPingFailure,
        ConnectionNotEstablished,
        GatewayNodeConfigInvalid,
        StaleRemoteEndpoint,
        InterClusterTunnelBlocked,
        StaleResolvConf,
        DnsmasqUpstreamStale,
        ClustersetNameResolution,
        CorednsClustersetForward,
        RpFilterStrict,
        GlobalCidrRouteMissing,
        GlobalIpUnreachable,
        ComponentVersionSkew,
        ClusterCidrMismatch,
        NetworkDiscoveryFailed,
        GlobalIpDoubleAllocation,
        MultipleActiveGateways,
        GatewayPublicIpUnresolved,
        GlobalCidrInUseLocally,
        CniDetectedGeneric,
        GlobalnetCidrBrokerMismatch,
        GlobalnetPoolExhausted,
        StaleGlobalIpAnnotation,
        ClusterEgressIpMisconfigured,
        KubednsClustersetStubMissing,
        OpenshiftDnsLighthouseForward,
        LighthouseDnsConfigNotLoaded,
    ),
    docs=files(f"{__name__}.docs"),
)
