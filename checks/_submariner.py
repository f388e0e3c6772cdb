"""What checks that depend on Submariner share: its presence and its objects."""

from __future__ import annotations

from globalnet_doctor import facts
from globalnet_doctor.spec import CheckContext, NotApplicable
from globalnet_doctor.view import KubeObject


def require_submariner(ctx: CheckContext) -> KubeObject:
    """The Submariner CR; the check does not apply (``skip``) where Submariner is not installed."""
    cr = facts.submariner_cr(ctx.cluster, ctx.settings)
    if cr is None:
        raise NotApplicable(
            f"Submariner is not installed (no Submariner CR in {ctx.settings.submariner_namespace})"
        )
    return cr
