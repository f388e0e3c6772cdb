"""The built-in checks of gdoctor, registered like any third-party check pack."""

from __future__ import annotations

from importlib.resources import files

from globalnet_doctor.spec import CheckPack

from .gateway_nodes import NoGatewayNode
from .kube_proxy import KubeProxyIpvs

CHECK_PACK = CheckPack(
    checks=(KubeProxyIpvs, NoGatewayNode),
    docs=files(f"{__name__}.docs"),
)
