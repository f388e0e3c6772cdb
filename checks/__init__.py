"""The built-in checks of gdoctor, registered like any third-party check pack."""

from __future__ import annotations

from importlib.resources import files

from globalnet_doctor.spec import CheckPack

from .admission_external_ips import ExternalIpsAdmissionDenied
from .calico_bird_probes import CalicoBirdProbes
from .calico_encapsulation import CalicoNotVxlan
from .calico_ippools import CalicoIppoolsMissing
from .cidr_overlap import CidrOverlap
from .connections import ConnectionNotEstablished
from .dns_config import CorednsClustersetForward, DnsmasqUpstreamStale
from .export_selectors import ExportWithoutSelector
from .external_host import ExternalHostOutsideClusterCidr
from .gateway_nodes import NoGatewayNode
from .global_ingress import GlobalIngressIpMissing, GlobalIpInconsistent
from .health_check import HealthCheckPingFailure
from .host_global_reachability import GlobalIpUnreachable
from .host_global_route import GlobalCidrRouteMissing
from .host_name_resolution import ClustersetNameResolution
from .host_resolv_conf import StaleResolvConf
from .host_rp_filter import RpFilterStrict
from .kube_proxy import KubeProxyIpvs
from .submariner_ready import SubmarinerNotReady

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
        StaleResolvConf,
        DnsmasqUpstreamStale,
        ClustersetNameResolution,
        CorednsClustersetForward,
        RpFilterStrict,
        GlobalCidrRouteMissing,
        GlobalIpUnreachable,
    ),
    docs=files(f"{__name__}.docs"),
)
