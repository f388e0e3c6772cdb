"""GD004: every Submariner component runs the release the Submariner CR asks for, and the
clusters of the clusterset run the same minor release."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import submariner
from globalnet_doctor.facts.deployment import (
    COMPONENTS,
    OPERATOR_COMPONENT,
    Component,
    Release,
    container_images,
    image_tag,
    mismatched_images,
    overridden_components,
    release,
    release_text,
    spec_release,
    workload_reads,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject

_UPGRADE = (
    "Run `subctl upgrade --to-version <release>` (it upgrades the operator and every "
    "component in each context of the kubeconfig), then wait for the rollouts to finish."
)


def _stale_images(
    view: ClusterView, namespace: str, component: Component, wanted: Release
) -> list[str]:
    """The images of ``component`` whose tag is a release other than ``wanted``."""
    workload = view.get(component.kind, component.name, namespace)
    stale = []
    for image in container_images(workload):
        tagged = release(image_tag(image))
        if tagged is not None and tagged != wanted:
            stale.append(image)
    return stale


def _minor_of(view: ClusterView, settings: Settings) -> Release | None:
    """The release a readable cluster's Submariner CR asks for; None when unknown."""
    if not view.reachable:
        return None
    try:
        cr = submariner.submariner_cr(view, settings)
    except InputUnavailable:
        return None
    return None if cr is None else spec_release(cr)


class ComponentVersionSkew(Check):
    id = "GD004"
    name = "component-version-skew"
    title = "Submariner's components and clusters run the same release"
    severity = Severity.WARNING
    tags = frozenset({"deployment", "cluster"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return workload_reads(settings)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        namespace = settings.submariner_namespace
        cr = submariner.require_submariner(view, settings)
        cr_ref = ref(view.name, kinds.SUBMARINERS, cr)
        fields = mismatched_images(cr)
        if fields:
            yield self.finding(
                "pods of the same Submariner DaemonSet run different image digests "
                f"(mismatchedContainerImages in {', '.join(fields)})",
                resources=[cr_ref],
                evidence={"mismatchedContainerImages": list(fields)},
                remedy="A rollout is stuck or a mutable tag was pulled at different times: "
                f"look at `kubectl -n {namespace} get pods -o wide` and restart the pods that "
                "run the old image (or pin the version with `subctl upgrade`).",
            )
        wanted = spec_release(cr)
        if wanted is None:
            return  # devel or a branch name: nothing to compare tags with
        yield from self._component_skew(view, namespace, cr, wanted)
        yield from self._cluster_skew(ctx, wanted)

    def _component_skew(
        self, view: ClusterView, namespace: str, cr: KubeObject, wanted: Release
    ) -> Iterable[Finding]:
        overridden = overridden_components(cr)
        stale: dict[str, list[str]] = {}
        resources = []
        for component in COMPONENTS:
            if component.override_key in overridden:
                continue
            images = _stale_images(view, namespace, component, wanted)
            if images:
                stale[f"{component.kind.kind}/{component.name}"] = images
                workload = view.get(component.kind, component.name, namespace)
                if workload is not None:
                    resources.append(ref(view.name, component.kind, workload))
        if stale:
            yield self.finding(
                f"{len(stale)} Submariner component(s) run an image tag other than "
                f"spec.version {release_text(wanted)}: {', '.join(sorted(stale))}",
                resources=resources,
                evidence={"specVersion": release_text(wanted), "images": stale},
                remedy=_UPGRADE,
            )
        if OPERATOR_COMPONENT.override_key in overridden:
            return
        operator = view.get(OPERATOR_COMPONENT.kind, OPERATOR_COMPONENT.name, namespace)
        older = [
            image
            for image in container_images(operator)
            if (tagged := release(image_tag(image))) is not None and tagged < wanted
        ]
        if operator is not None and older:
            yield self.finding(
                f"the operator Deployment {OPERATOR_COMPONENT.name} runs {', '.join(older)}, "
                f"older than spec.version {release_text(wanted)}",
                resources=[ref(view.name, OPERATOR_COMPONENT.kind, operator)],
                evidence={"specVersion": release_text(wanted), "operatorImages": older},
                remedy=_UPGRADE,
            )

    def _cluster_skew(self, ctx: CheckContext, wanted: Release) -> Iterable[Finding]:
        """Reported under each cluster on an older minor than the newest of the clusterset."""
        minors = {
            v.name: found[:2]
            for v in ctx.clusters
            if (found := _minor_of(v, ctx.settings)) is not None
        }
        newest = max(minors.values(), default=wanted[:2])
        if wanted[:2] >= newest:
            return
        newer = sorted(name for name, minor in minors.items() if minor > wanted[:2])
        yield self.finding(
            f"this cluster runs Submariner {wanted[0]}.{wanted[1]} while "
            f"{', '.join(newer)} run(s) {newest[0]}.{newest[1]}: the clusterset mixes minor "
            "releases",
            evidence={
                "minorReleases": {name: f"{m[0]}.{m[1]}" for name, m in sorted(minors.items())}
            },
            related_clusters=newer,
            remedy=_UPGRADE,
        )
