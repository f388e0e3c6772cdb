"""The command line: parse, build the run, render, exit. Decides nothing about findings.

Kept light on import: ``--help``, ``list`` and ``explain`` never import the Kubernetes client or
scapy; ``check`` imports the client only when it reads clusters.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from globalnet_doctor import __version__
from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import ExitCode, UndoExitCode

if TYPE_CHECKING:
    from collections.abc import Sequence

    from globalnet_doctor.fix_session import FixResult
    from globalnet_doctor.fixer import FixReport, UndoResult
    from globalnet_doctor.kubeconfig import Targets
    from globalnet_doctor.model import Report
    from globalnet_doctor.registry import Registry
    from globalnet_doctor.runner import RunOptions
    from globalnet_doctor.spec import Check

F = TypeVar("F", bound=Callable[..., Any])
REPORT_FORMATS = ["table", "json", "junit", "sarif"]
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
    console = _ConsoleHandler(sys.stderr)
    console.setLevel(logging.WARNING if not verbose else logging.INFO if verbose == 1 else 0)
    console.setFormatter(_PrintableFormatter("gdoctor: %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write log file {log_file}: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Warnings on stderr, each on a line of its own even while a progress line stands."""

    def emit(self, record: logging.LogRecord) -> None:
        _Progress.clear()
        super().emit(record)


class _PrintableFormatter(logging.Formatter):
    """Log lines on the terminal carry text from clusters (error messages, names): escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from globalnet_doctor.terminal import printable

        record.message = printable(record.message)
        return super().formatMessage(record)


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> None:
    from globalnet_doctor.terminal import printable

    _Progress.clear()

    click.echo(f"gdoctor: error: {printable(message)}", err=True)
    sys.exit(code)


def _internal_error(exc: Exception) -> None:
    log.debug("internal error", exc_info=exc)
    _fail(
        f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback, and "
        "please report it)",
        ExitCode.INCOMPLETE,
    )


class _Progress:
    """What a run is doing, as one line on a terminal that each step overwrites (cleared before
    anything else is written); nothing when stderr is not a terminal (CI logs, pipes), where
    the lines would scroll."""

    showing = False
    """Whether a progress line stands on the terminal now."""

    def __call__(self, message: str) -> None:
        log.debug("progress: %s", message)  # kept in --log-file, where a run is reviewed
        if not sys.stderr.isatty():
            return
        from globalnet_doctor.terminal import printable

        width = shutil.get_terminal_size().columns
        line = printable(f"gdoctor: {message}", max(10, width - 1))
        sys.stderr.write(f"\r\x1b[K{line}")
        sys.stderr.flush()
        _Progress.showing = True

    @staticmethod
    def clear() -> None:
        if _Progress.showing:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            _Progress.showing = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="gdoctor", message="%(prog)s %(version)s")
def main() -> None:
    """gdoctor: finds, explains and repairs Submariner Globalnet networking failures.

    `gdoctor check --all` runs every check against every cluster of the kubeconfig;
    `gdoctor list` shows the catalogue; `gdoctor explain ID` explains one check.
    """


def run() -> None:
    """The `gdoctor` command: main() in a process of its own."""
    from globalnet_doctor.gcpause import freeze_after_decoding

    freeze_after_decoding()
    main()


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
    click.echo(_explained_checks(registry, check), nl=False)
    click.echo(_installed_modules(registry, check), nl=False)


def _explained_checks(registry: Registry, check: type[Check]) -> str:
    """The root-cause graph around the check, as the report orders failures by it."""
    explains = ", ".join(sorted(check.explains)) or "nothing declared"
    by = ", ".join(c.id for c in registry.checks if check.id in c.explains) or "nothing declared"
    return f"\n## Root causes\n\nIts failure can explain: {explains}\nExplained by: {by}\n"


def _installed_modules(registry: Registry, check: type[Check]) -> str:
    """Where the check and its fix come from, so a reader finds the code of any pack."""
    from globalnet_doctor.registry import RegistryError, load_fixes

    try:
        fix_line = _module_line(load_fixes(registry).get(check.id))
    except RegistryError as exc:
        fix_line = f"unknown (invalid fix plugin: {exc})"
    return f"\n## Installed modules\n\nCheck: {_module_line(check)}\nFix: {fix_line}\n"


def _module_line(code: type | None) -> str:
    if code is None:
        return "none"
    return f"{code.__module__} ({code.__qualname__})"


def _run_option_list() -> list[tuple[str, Callable[[F], F]]]:
    """The options `check`, `bundle` and `fix` share (which clusters, site settings, the
    machine), each under its parameter name."""
    options = [
        click.option(
            "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)."
        ),
        click.option(
            "--context",
            "contexts",
            multiple=True,
            help="A context to check (repeatable; default: every context).",
        ),
        click.option("--in-cluster", is_flag=True, help="Use the pod's service account."),
        click.option(
            "--probes",
            is_flag=True,
            help="Also run probes (traffic, server-side dry-runs); named checks always probe.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Site settings file (default: ./gdoctor.toml, then ~/.config/gdoctor/).",
        ),
        click.option("--submariner-namespace", help="Namespace of the Submariner operator."),
        click.option("--broker-context", help="The context that holds the broker."),
        click.option("--broker-namespace", help="Namespace of the broker objects."),
        click.option("--dns-service", help="External DNS Service, [CONTEXT/]NAMESPACE/NAME."),
        click.option("--webhook-deployment", help="externalIP webhook Deployment, NAMESPACE/NAME."),
        click.option("--dnsmasq-configmap", help="External dnsmasq ConfigMap, NAMESPACE/NAME."),
        click.option(
            "--external-host", metavar="IP", help="IP of the host outside every cluster (GD306)."
        ),
        click.option(
            "--host-cluster",
            metavar="CONTEXT",
            help="The context whose cluster owns the external host (default: the "
            "cluster of the gateway its route to the global CIDR goes through, else the "
            "one whose clusterCIDR lists it).",
        ),
        click.option(
            "--request-timeout",
            type=click.FloatRange(min=0.1),
            help="Seconds one API request may take (default 10).",
        ),
        click.option(
            "--check-timeout",
            type=click.FloatRange(min=0.1),
            help="Seconds one check may run (default 30).",
        ),
        click.option(
            "--install-grace-seconds",
            type=click.FloatRange(min=0),
            help="Seconds the operator may take to deploy a new Submariner CR (GD002, "
            "default 120).",
        ),
        click.option(
            "--host/--no-host",
            "host",
            default=None,
            help="Run the host checks on this machine even when it is not a neighbour "
            "of a gateway node (default: only then); --no-host never runs them.",
        ),
        click.option(
            "--root",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Read the machine's files (/proc/sys, sysctl.d, resolv.conf) under "
            "this directory.",
        ),
        # An unreadable or missing file is evidence for the checks, not a usage error.
        click.option(
            "--resolv-conf",
            type=click.Path(readable=False, path_type=Path),
            help="The resolver configuration to judge (default: /etc/resolv.conf, under --root).",
        ),
    ]
    names = [
        "kubeconfig", "contexts", "in_cluster", "probes", "config_path",
        "submariner_namespace", "broker_context", "broker_namespace", "dns_service",
        "webhook_deployment", "dnsmasq_configmap", "external_host", "host_cluster",
        "request_timeout", "check_timeout", "install_grace_seconds", "host", "root",
        "resolv_conf",
    ]  # fmt: skip
    return list(zip(names, options, strict=True))


def _run_options_without(*left_out: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for name, option in reversed(_run_option_list()):
            if name not in left_out:
                func = option(func)
        return _logging_options(func)

    return decorate


def _run_options(func: F) -> F:
    """The options `check` and `bundle` share: which clusters, site settings, the machine."""
    return _run_options_without()(func)


@dataclass(frozen=True)
class _Run:
    targets: Targets
    options: RunOptions


def _prepare_run(
    named: frozenset[str],
    kubeconfig: str | None,
    contexts: tuple[str, ...],
    in_cluster: bool,
    probes: bool,
    config_path: Path | None,
    verbose: int,
    log_file: Path | None,
    host: bool | None,
    root: Path | None,
    resolv_conf: Path | None,
    **site: Any,
) -> _Run:
    from globalnet_doctor.config import load_settings
    from globalnet_doctor.host_situation import HostMode
    from globalnet_doctor.kubeconfig import resolve_targets
    from globalnet_doctor.runner import HostOptions, RunOptions

    _setup_logging(verbose, log_file)
    settings = load_settings(config_path, site)
    targets = resolve_targets(kubeconfig, contexts, in_cluster)
    for warning in targets.warnings:
        log.warning("%s", warning)
    host_mode = HostMode.AUTO if host is None else HostMode.ON if host else HostMode.OFF
    host_options = HostOptions(host_mode, root or Path("/"), resolv_conf)
    return _Run(
        targets, RunOptions(settings=settings, probes=probes, named=named, host=host_options)
    )


def _guarded(run: Callable[[], int]) -> None:
    """Runs a command body: usage errors and gdoctor bugs become one line and an exit code."""
    try:
        code = run()
    except UsageError as exc:
        _fail(str(exc))
        return
    except Exception as exc:  # a gdoctor bug: one line for the operator, details with -vv
        _internal_error(exc)
        return
    sys.exit(code)


@main.command(epilog=_EXIT_CODES_HELP)
@click.argument("checks", nargs=-1, metavar="[ID|NAME]...")
@click.option("--all", "run_all", is_flag=True, help="Run every check (the default).")
@click.option("--select", multiple=True, help="Only checks matching an id, name, tag or glob.")
@click.option("--ignore", multiple=True, help="Leave out checks matching an id, name, tag or glob.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(REPORT_FORMATS),
    default="table",
    help="table for people; json, junit or sarif for CI (stdout is then the document alone).",
)
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Analyse a support bundle offline instead of live clusters.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "never"]),
    default="error",
    show_default=True,
    help="Lowest finding severity that makes the exit code 1.",
)
@click.option("--show-passed", is_flag=True, help="List the checks that passed, per cluster.")
@_run_options
def check(
    checks: tuple[str, ...],
    run_all: bool,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    output: str,
    bundle_path: Path | None,
    fail_on: str,
    show_passed: bool,
    **run: Any,
) -> None:
    """Diagnose every cluster of the kubeconfig (or the named checks only)."""

    def body() -> int:
        from globalnet_doctor.diagnose import diagnose
        from globalnet_doctor.runner import exit_code_for

        if run_all and checks:
            raise UsageError("name checks or pass --all, not both")
        registry = _registry()
        chosen = registry.select(checks + select, ignore)
        named = frozenset(c.id for c in registry.select(checks)) if checks else frozenset()
        if bundle_path is not None:
            _refuse_live_only_options(run)
            _setup_logging(run["verbose"], run["log_file"])
            shown = _Shown(run["verbose"] > 0, show_passed)
            return _check_bundle(
                bundle_path, chosen, named, output, fail_on, run["contexts"], shown
            )
        prepared = _prepare_run(named, **run)
        report = diagnose(
            chosen,
            prepared.targets.targets,
            prepared.options,
            prepared.targets.warnings,
            _Progress(),
            prepared.targets.skipped,
        )
        for cluster in report.clusters:
            if not cluster.reachable and cluster.skipped is None:
                log.warning("cluster %s unreachable: %s", cluster.name, cluster.error)
        _emit_report(report, output, chosen, _Shown(run["verbose"] > 0, show_passed))
        return exit_code_for(report.results, report.incomplete, fail_on)

    _guarded(body)


@main.command()
@click.option(
    "-o",
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to write (default: gdoctor-bundle-<time>.tar.gz here).",
)
@click.option("--select", multiple=True, help="Only checks matching an id, name, tag or glob.")
@click.option("--ignore", multiple=True, help="Leave out checks matching an id, name, tag or glob.")
@click.option(
    "--logs",
    is_flag=True,
    help="Also collect the logs of Submariner, kube-proxy, Calico and dnsmasq pods.",
)
@click.option(
    "--since",
    "since_text",
    default="1h",
    metavar="DURATION",
    show_default=True,
    help="With --logs: how far back.",
)
@click.option(
    "--max-log-bytes",
    type=click.IntRange(min=1024),
    default=1024 * 1024,
    show_default=True,
    help="With --logs: at most this much per container.",
)
@_run_options
def bundle(
    output_path: Path | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    logs: bool,
    since_text: str,
    max_log_bytes: int,
    **run: Any,
) -> None:
    """Export a support bundle: what the checks read, their report, host facts, gdoctor's log.

    Secrets are scrubbed (docs/bundle.md). `gdoctor check --all --bundle FILE` analyses the
    bundle again offline and gives the same results.
    """

    def body() -> int:
        import time as clock

        from globalnet_doctor.collect import LogOptions, collect

        registry = _registry()
        chosen = registry.select(select, ignore)
        prepared = _prepare_run(frozenset(), **run)
        path = output_path or Path(clock.strftime("gdoctor-bundle-%Y%m%dT%H%M%S.tar.gz"))
        if path.exists():
            raise UsageError(f"{path} exists; name another file with -o")
        if not path.parent.is_dir():
            raise UsageError(f"cannot write {path}: no directory {path.parent}")
        log_options = (
            LogOptions(int(_parse_duration(since_text, "--since")), max_log_bytes) if logs else None
        )
        report, manifest = collect(
            chosen,
            prepared.targets.targets,
            prepared.options,
            path,
            log_options,
            prepared.targets.warnings,
            _Progress(),
        )
        _Progress.clear()
        size = path.stat().st_size
        counts = report.summary()
        click.echo(
            f"wrote {path} ({size} bytes, {len(manifest['members'])} members, "
            f"{len(manifest['redactions'])} redactions, {len(manifest['skipped'])} "
            f"things not collected; see its manifest.json)",
            err=True,
        )
        click.echo(
            f"{counts['fail']} fail, {counts['error']} error, {counts['skip']} skip, "
            f"{counts['pass']} pass",
            err=True,
        )
        click.echo(str(path))
        if report.clusters and not any(c.reachable for c in report.clusters):
            log.warning("no cluster was reachable: the bundle records only why")
            return ExitCode.INCOMPLETE
        return 0

    _guarded(body)


@dataclass(frozen=True)
class _Shown:
    """What the table shows beyond the diagnosis."""

    verbose: bool = False
    """Each finding's resources, evidence and remedy (-v)."""
    passed: bool = False
    """The checks that passed (--show-passed)."""


def _emit_report(
    report: Report, output: str, checks: Sequence[type[Check]], shown: _Shown = _Shown()
) -> None:
    """The report on stdout in the chosen format (and nothing else for the CI formats)."""
    _Progress.clear()
    if output == "json":
        from globalnet_doctor.formatters.json import render as render_json

        text = render_json(report)
    elif output == "junit":
        from globalnet_doctor.formatters.junit import render as render_junit

        text = render_junit(report)
    elif output == "sarif":
        from globalnet_doctor.formatters.sarif import render as render_sarif

        text = render_sarif(report, checks)
    else:
        from globalnet_doctor.formatters.table import render as render_table

        width = shutil.get_terminal_size((120, 50)).columns
        text = render_table(report, width, shown.verbose, shown.passed)
    sys.stdout.write(text)
    sys.stdout.flush()


_OFFLINE_OPTIONS = frozenset({"contexts", "verbose", "log_file"})
"""The run options that mean something with --bundle: --context picks recorded clusters."""


def _refuse_live_only_options(run: dict[str, Any]) -> None:
    """With --bundle, the clusters, the machine and the settings are the recorded ones: a flag
    about them would be silently ignored, so it is refused."""
    context = click.get_current_context()
    given = [
        name
        for name in run
        if name not in _OFFLINE_OPTIONS
        and context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        flags = ", ".join(_flag(context, name) for name in sorted(given))
        raise UsageError(
            f"{flags} cannot be used with --bundle: the bundle holds the clusters, the machine "
            "and the settings it recorded (--context selects among its clusters)"
        )


def _flag(context: click.Context, name: str) -> str:
    parameter = next(p for p in context.command.params if p.name == name)
    return "/".join(parameter.opts + parameter.secondary_opts) or name


def _check_bundle(
    path: Path,
    checks: Sequence[type[Check]],
    named: frozenset[str],
    output: str,
    fail_on: str,
    contexts: Sequence[str] = (),
    shown: _Shown = _Shown(),
) -> ExitCode:
    """Offline: the checks on what a bundle recorded (no cluster, no kubernetes, no scapy)."""
    from globalnet_doctor.bundle import BundleError, read_bundle
    from globalnet_doctor.collect import replay
    from globalnet_doctor.runner import exit_code_for

    try:
        report = replay(read_bundle(path), checks, named, contexts=contexts)
    except BundleError as exc:
        raise UsageError(f"cannot use bundle {path}: {exc}") from None
    _emit_report(report, output, checks, shown)
    return exit_code_for(report.results, report.incomplete, fail_on)


def _registry() -> Registry:
    from globalnet_doctor.registry import RegistryError, load_registry

    try:
        return load_registry()
    except RegistryError as exc:
        _fail(f"invalid check plugin: {exc}")
        raise  # unreachable: _fail exits


_FIX_EXIT_CODES_HELP = (
    "Exit codes: 0 applied (or nothing to do); 1 changes pending (--dry-run) or still failing; "
    "2 usage error or refused (unsafe without --unsafe, no terminal without --yes); 3 failed "
    "and rolled back; 4 awaiting reconciliation (the configuration is right, a controller must "
    "still react)."
)


@main.command(epilog=_FIX_EXIT_CODES_HELP)
@click.argument("names", nargs=-1, metavar="[ID|NAME]...")
@click.option(
    "--all",
    "fix_all",
    is_flag=True,
    help="Every fix whose check fails now, root causes first (never last-resort ones).",
)
@click.option("--node", help="The node to act on where a fix needs one (GD401).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show the plan and let the API servers validate it (dryRun=All; host changes: "
    "whether they can be written); change nothing.",
)
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option(
    "--unsafe", is_flag=True, help="Allow unsafe fixes (changing encapsulation, hiding a symptom)."
)
@click.option(
    "--recreate-exports",
    is_flag=True,
    help="GD301: recreate failed ServiceExports instead of annotating their Services.",
)
@click.option(
    "--rp-filter",
    type=click.Choice(["2", "0"]),
    default="2",
    show_default=True,
    help="GD601: the reverse-path filtering mode to set: 2 loose (as Submariner does), 0 off.",
)
@click.option(
    "--rollout-timeout",
    "rollout_timeout_text",
    default="2m",
    show_default=True,
    metavar="DURATION",
    help="GD301: how long the re-trigger waits for the webhook's new pods to admit "
    "Globalnet's Services.",
)
@click.option(
    "--wait",
    "wait_text",
    default="0s",
    metavar="DURATION",
    help="After applying, poll until the check's status changes (e.g. 60s, 2m).",
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
# --probes is left out: the check being fixed is named, so its probe always runs.
@_run_options_without("probes")
def fix(**params: Any) -> None:
    """Repair what a check found: plan, preview, apply, verify (and journal for undo).

    Each change is shown as a diff first. Kubernetes objects are updated with the
    resourceVersion read at planning time, so a concurrent edit makes gdoctor plan again
    instead of overwriting it; a fix whose later step fails is rolled back. Undo a run with
    `gdoctor undo RUN-ID` (steps marked IRREVERSIBLE, like deleting pods so their DaemonSet
    restarts them, cannot be undone).

    Host fixes (GD501 resolv.conf, GD601 rp_filter, GD602 the global CIDR's route) change
    the machine gdoctor runs on, read as `check` reads it (--host/--no-host, --root,
    --resolv-conf): files are journaled byte for byte and backed up, sysctls and routes
    with their prior values. Run `gdoctor undo` where the fix ran (the same network
    namespace).
    """
    _guarded(lambda: _fix(**params))


def _parse_duration(text: str, flag: str = "--wait") -> float:
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise UsageError(f"{flag} takes a duration such as 30s or 2m, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{flag} takes a finite duration, not negative: {text!r}")
    return value


def _fix(
    names: tuple[str, ...],
    fix_all: bool,
    node: str | None,
    dry_run: bool,
    yes: bool,
    unsafe: bool,
    recreate_exports: bool,
    rp_filter: str,
    rollout_timeout_text: str,
    wait_text: str,
    output: str,
    **run: Any,
) -> int:
    from globalnet_doctor.fix_session import (
        FixRequest,
        FixResult,
        FixSession,
        fix_pack,
        select_fixes,
    )
    from globalnet_doctor.fixer import Fixer
    from globalnet_doctor.fixspec import FixOptions
    from globalnet_doctor.journal import Journal

    _setup_logging(run["verbose"], run["log_file"])
    wait = _parse_duration(wait_text)
    rollout_timeout = _parse_duration(rollout_timeout_text, "--rollout-timeout")
    options = FixOptions(
        node=node,
        recreate_exports=recreate_exports,
        rp_filter=int(rp_filter),
        rollout_timeout=rollout_timeout,
    )
    request = FixRequest(names, fix_all, dry_run, unsafe, wait, options)
    registry = _registry()
    selected = select_fixes(request, registry, fix_pack(registry))
    prepared = _prepare_run(frozenset(), probes=False, **run)
    targets = prepared.targets
    checks = {c.id: c for c in registry.checks}
    fixer = Fixer(
        checks,
        targets.targets,
        prepared.options.settings,
        options,
        _Progress(),
        prepared.options.host,
    )
    session = FixSession(request, selected, fixer)
    preview = session.preview()
    if isinstance(preview, FixResult):
        return _fix_result(preview, output)
    if output != "json":
        _emit_plan(preview.reports, output, "plan", None)
    _confirm_apply(yes)
    journal = Journal.create(run["kubeconfig"], {t.name: t.server for t in targets.targets})
    return _fix_result(session.apply(journal), output)


def _confirm_apply(yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to change clusters without a terminal to confirm on; "
            "pass --yes (or --dry-run to preview)"
        )
    if not click.confirm("Apply these changes?", default=False, err=True):
        raise UsageError("not applied")


def _fix_result(result: FixResult, output: str) -> int:
    _emit_plan(result.reports, output, result.mode.value, result.run_id)
    if result.complaint is not None:
        click.echo(f"gdoctor: {result.complaint}", err=True)
    return result.exit_code


def _emit_plan(reports: Sequence[FixReport], output: str, mode: str, run_id: str | None) -> None:
    from globalnet_doctor.formatters.plan import plan_to_dict, render_text

    _Progress.clear()

    if output == "json":
        import json

        sys.stdout.write(json.dumps(plan_to_dict(reports, mode, run_id), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(reports, run_id))
    sys.stdout.flush()


@main.command()
@click.argument("run_id", metavar="RUN-ID")
@click.option("--kubeconfig", help="Kubeconfig (default: the one the fix run used).")
@_logging_options
def undo(run_id: str, kubeconfig: str | None, verbose: int, log_file: Path | None) -> None:
    """Restore what a `gdoctor fix` run changed, from its journal (newest change first)."""
    from globalnet_doctor.config import load_settings
    from globalnet_doctor.fixer import UndoState
    from globalnet_doctor.fixer import undo as undo_run
    from globalnet_doctor.journal import Journal
    from globalnet_doctor.kubeconfig import resolve_targets

    try:
        _setup_logging(verbose, log_file)
        journal = Journal.load(run_id)
        targets = resolve_targets(kubeconfig or journal.kubeconfig, tuple(journal.contexts))
        results = undo_run(journal, targets.targets, load_settings(None, {}))
    except UsageError as exc:
        _fail(str(exc))
        return
    for line in [_undo_line(r) for r in results] or ["nothing to undo"]:
        click.echo(line)
    failed = any(r.state is UndoState.FAILED for r in results)
    sys.exit(UndoExitCode.NOT_RESTORED if failed else UndoExitCode.OK)


def _undo_line(result: UndoResult) -> str:
    from globalnet_doctor.fixer import UndoState

    change = result.change
    if result.state is UndoState.UNDONE:
        return f"undone: {change.describe()}"
    if result.state is UndoState.IRREVERSIBLE:
        return f"cannot undo (irreversible): {change.describe()} ({change.why})"
    if result.state is UndoState.NOT_REACHED:
        return f"not undone: {result.detail}"
    return f"failed to undo {change.describe()}: {result.detail}"


@main.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def diff_command(old: Path, new: Path, output: str) -> None:
    """Findings that appeared (+), disappeared (-) or changed (~) between two runs.

    OLD and NEW are JSON reports (`check -o json`) or support bundles; a bundle is analysed
    again from the objects it recorded. Findings are keyed by check, cluster and resource. A
    cluster unreachable on one side (!) makes its findings unknown (?), not gone; a status
    moving to or from skip or error is shown (>). Exit code 1 when findings or statuses
    changed, 3 when nothing did but a side was incomplete, 0 otherwise, 2 for unusable input.
    """

    def body() -> int:
        from globalnet_doctor.diffing import (
            diff_sides,
            exit_code,
            load_side,
            render_json,
            render_text,
        )

        before, after = load_side(old), load_side(new)
        changes = diff_sides(before, after)
        sys.stdout.write(render_json(changes) if output == "json" else render_text(changes))
        return exit_code(changes, before, after)

    _guarded(body)


@main.command()
@click.option("-o", "--output", type=click.Choice(REPORT_FORMATS), default="table")
@click.option("-v", "--verbose", count=True, help="Each finding's evidence and remedy.")
@click.option("--show-passed", is_flag=True, help="List the checks that passed, per cluster.")
def demo(output: str, verbose: int, show_passed: bool) -> None:
    """The field report's incident, diagnosed from the bundle shipped with gdoctor (no cluster).

    Three clusters and the host as the report found them before its repairs, recorded by
    `gdoctor bundle` from the test lab. The same as `gdoctor check --all --bundle <demo>`.
    """

    def body() -> int:
        from importlib.resources import as_file, files

        demo_file = files("globalnet_doctor") / "demo" / "field-report.tar.gz"
        if not demo_file.is_file():
            raise UsageError("the demo bundle is not installed with this gdoctor")
        registry = _registry()
        with as_file(demo_file) as path:
            shown = _Shown(verbose > 0, show_passed)
            return _check_bundle(path, registry.checks, frozenset(), output, "error", (), shown)

    _guarded(body)
