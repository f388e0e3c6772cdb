"""The built-in checks of gdoctor, registered like any third-party check pack."""

from __future__ import annotations

from importlib.resources import files

from globalnet_doctor.spec import CheckPack

from .connections import ConnectionNotEstablished
from .dns_config import CorednsClustersetForward, DnsmasqUpstreamStale
from .gateway_nodes import NoGatewayNode
from .kube_proxy import KubeProxyIpvs
from .submariner_ready import SubmarinerNotReady

CHECK_PACK = CheckPack(
    checks=(
        SubmarinerNotReady,
        KubeProxyIpvs,
        NoGatewayNode,
        ConnectionNotEstablished,
        DnsmasqUpstreamStale,
        CorednsClustersetForward,
    ),
    docs=files(f"{__name__}.docs"),
)
