"""The command line: parse, build the run, render, exit. Decides nothing about findings.

Kept light on import: ``--help``, ``list`` and ``explain`` never import the Kubernetes client or
scapy; ``check`` imports the client only when it reads clusters.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from globalnet_doctor import __version__
from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import ExitCode

if TYPE_CHECKING:
    from globalnet_doctor.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("globalnet_doctor")

_EXIT_CODES_HELP = (
    "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or "
    "configuration error; 3 incomplete run (a cluster unreachable or a check error) with "
    "nothing over the threshold. A skip never changes the exit code."
)


def _logging_options(func: F) -> F:
    func = click.option(
        "-v", "--verbose", count=True, help="More detail on stderr (-vv for every request)."
    )(func)
    func = click.option(
        "--log-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write a debug log to this file.",
    )(func)
    return func


def _setup_logging(verbose: int, log_file: Path | None) -> None:
    root = logging.getLogger("globalnet_doctor")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if not verbose else logging.INFO if verbose == 1 else 0)
    console.setFormatter(logging.Formatter("gdoctor: %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write log file {log_file}: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> None:
    click.echo(f"gdoctor: error: {message}", err=True)
    sys.exit(code)


class _Progress:
    """Progress lines on stderr, only once a run has taken more than a second."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if time.monotonic() - self.started > 1.0:
            click.echo(f"gdoctor: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="gdoctor", message="%(prog)s %(version)s")
def main() -> None:
    """gdoctor: finds, explains and repairs Submariner Globalnet networking failures.

    `gdoctor check --all` runs every check against every cluster of the kubeconfig;
    `gdoctor list` shows the catalogue; `gdoctor explain ID` explains one check.
    """


@main.command("list")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def list_checks(output: str) -> None:
    """The check catalogue: id, name, severity, kind, fix."""
    registry = _registry()
    if output == "json":
        import json

        catalogue = [
            {
                "id": c.id,
                "name": c.name,
                "title": c.title,
                "severity": c.severity.value,
                "scope": c.scope.value,
                "probes": c.probes,
                "tags": sorted(c.tags),
                "fix": c.fix,
            }
            for c in registry.checks
        ]
        click.echo(json.dumps(catalogue, indent=2))
        return
    from globalnet_doctor.formatters.table import render_catalogue

    click.echo(render_catalogue(registry.checks), nl=False)


@main.command()
@click.argument("check_id", metavar="ID|NAME")
def explain(check_id: str) -> None:
    """Show a check's documentation page."""
    registry = _registry()
    check = registry.find(check_id)
    if check is None:
        _fail(f"no check {check_id!r} (see `gdoctor list`)")
        return
    page = registry.doc_page(check)
    if page is None:
        _fail(f"{check.id} has no documentation page installed", ExitCode.INCOMPLETE)
        return
    click.echo(page, nl=not page.endswith("\n"))


@main.command(epilog=_EXIT_CODES_HELP)
@click.argument("checks", nargs=-1, metavar="[ID|NAME]...")
@click.option("--all", "run_all", is_flag=True, help="Run every check (the default).")
@click.option("--select", multiple=True, help="Only checks matching an id, name, tag or glob.")
@click.option("--ignore", multiple=True, help="Leave out checks matching an id, name, tag or glob.")
@click.option("--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
@click.option(
    "--context",
    "contexts",
    multiple=True,
    help="A context to check (repeatable; default: every context).",
)
@click.option("--in-cluster", is_flag=True, help="Use the pod's service account.")
@click.option(
    "--probes",
    is_flag=True,
    help="Also run probes (traffic, server-side dry-runs); named checks always probe.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    help="table for people, json for CI (stdout is then the document alone).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "never"]),
    default="error",
    show_default=True,
    help="Lowest finding severity that makes the exit code 1.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Site settings file (default: ./gdoctor.toml, then ~/.config/gdoctor/).",
)
@click.option("--submariner-namespace", help="Namespace of the Submariner operator.")
@click.option("--broker-context", help="The context that holds the broker.")
@click.option("--broker-namespace", help="Namespace of the broker objects.")
@click.option("--dns-service", help="External DNS Service, [CONTEXT/]NAMESPACE/NAME.")
@click.option("--webhook-deployment", help="externalIP webhook Deployment, NAMESPACE/NAME.")
@click.option("--dnsmasq-configmap", help="External dnsmasq ConfigMap, NAMESPACE/NAME.")
@click.option("--external-host", metavar="IP", help="IP of the host outside every cluster (GD306).")
@click.option(
    "--host-cluster",
    metavar="CONTEXT",
    help="The context whose cluster owns the external host (default: the one whose "
    "clusterCIDR lists it).",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0.1),
    help="Seconds one API request may take (default 10).",
)
@click.option(
    "--check-timeout",
    type=click.FloatRange(min=0.1),
    help="Seconds one check may run (default 30).",
)
@_logging_options
def check(**params: Any) -> None:
    """Diagnose every cluster of the kubeconfig (or the named checks only)."""
    try:
        code = _check(**params)
    except UsageError as exc:
        _fail(str(exc))
        return
    sys.exit(code)


def _check(
    checks: tuple[str, ...],
    run_all: bool,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    kubeconfig: str | None,
    contexts: tuple[str, ...],
    in_cluster: bool,
    probes: bool,
    output: str,
    fail_on: str,
    config_path: Path | None,
    verbose: int,
    log_file: Path | None,
    **site: Any,
) -> ExitCode:
    from globalnet_doctor.config import load_settings
    from globalnet_doctor.diagnose import diagnose
    from globalnet_doctor.kubeconfig import resolve_targets
    from globalnet_doctor.runner import RunOptions, exit_code_for

    _setup_logging(verbose, log_file)
    if run_all and checks:
        raise UsageError("name checks or pass --all, not both")
    registry = _registry()
    chosen = registry.select(checks + select, ignore)
    named_ids = frozenset(c.id for c in registry.select(checks)) if checks else frozenset()
    settings = load_settings(config_path, site)
    targets = resolve_targets(kubeconfig, contexts, in_cluster)
    for warning in targets.warnings:
        log.warning("%s", warning)
    options = RunOptions(settings=settings, probes=probes, named=named_ids)
    report = diagnose(chosen, targets.targets, options, targets.warnings, _Progress())
    for cluster in report.clusters:
        if not cluster.reachable:
            log.warning("cluster %s unreachable: %s", cluster.name, cluster.error)
    if output == "json":
        from globalnet_doctor.formatters.json import render as render_json

        sys.stdout.write(render_json(report))
    else:
        from globalnet_doctor.formatters.table import render as render_table

        sys.stdout.write(render_table(report, colour=sys.stdout.isatty()))
    sys.stdout.flush()
    return exit_code_for(report.results, report.incomplete, fail_on)


def _registry() -> Registry:
    from globalnet_doctor.registry import RegistryError, load_registry

    try:
        return load_registry()
    except RegistryError as exc:
        _fail(f"invalid check plugin: {exc}")
        raise  # unreachable: _fail exits
