"""Site settings: the names that differ between installations, from flags or ``gdoctor.toml``."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globalnet_doctor.errors import UsageError

CONFIG_FILE_NAME = "gdoctor.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    submariner_namespace: str = "submariner-operator"
    broker_namespace: str = "submariner-k8s-broker"
    broker_context: str | None = None
    dns_service: str = "submariner-operator/external-dns-cluster-a"
    """NAMESPACE/NAME, optionally CONTEXT/NAMESPACE/NAME, of the external DNS Service."""
    webhook_deployment: str = "externalip-validation-system/externalip-validation-webhook"
    """NAMESPACE/NAME of the externalIP admission webhook Deployment."""
    dnsmasq_configmap: str = "submariner-operator/external-dnsmasq"
    """NAMESPACE/NAME of the external dnsmasq's ConfigMap (key ``upstreamservers``)."""
    external_host: str | None = None
    """IP of the host outside every cluster that the clusters reach (GD306)."""
    host_cluster: str | None = None
    """The context (or Submariner clusterID) of the cluster that owns the external host."""
    request_timeout: float = 10.0
    """Seconds a single API request may take."""
    check_timeout: float = 30.0
    """Seconds a single check may run."""
    install_grace_seconds: float = 120.0
    """GD002: how long after its Submariner CR was created the operator may take to deploy."""


def split_name(value: str, setting: str) -> tuple[str, str]:
    """NAMESPACE/NAME of a setting, or a one-line usage error."""
    namespace, _, name = value.partition("/")
    if not namespace or not name or "/" in name:
        raise UsageError(f"{setting} must be NAMESPACE/NAME, not {value!r}")
    return namespace, name


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def default_config_paths() -> list[Path]:
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [Path(CONFIG_FILE_NAME), config_home / "gdoctor" / CONFIG_FILE_NAME]


def load_settings(path: Path | None, overrides: dict[str, Any]) -> Settings:
    """Settings from the file (``path``, else the first default that exists), then the flags."""
    values: dict[str, Any] = {}
    candidates = [path] if path is not None else default_config_paths()
    for candidate in candidates:
        if candidate.is_file() or path is not None:
            values = _read_site_table(candidate)
            break
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except TypeError as exc:
        raise UsageError(f"bad setting: {exc}") from None
    split_name(settings.webhook_deployment, "webhook_deployment")
    split_name(settings.dnsmasq_configmap, "dnsmasq_configmap")
    if settings.external_host is not None:
        _ip_address(settings.external_host, "external_host")
    for name in ("request_timeout", "check_timeout"):
        _seconds(getattr(settings, name), name)
    return settings


MIN_SECONDS = 0.1


def _seconds(value: float, setting: str) -> None:
    """A timeout that means what it says: a finite number of seconds, not below the least a
    request can be given (nan, inf, 0 or -5 would otherwise be blamed on the clusters)."""
    if not math.isfinite(value) or value < MIN_SECONDS:
        flag = "--" + setting.replace("_", "-")
        raise UsageError(
            f"{setting} ({flag}) must be a finite number of seconds of at least {MIN_SECONDS}, "
            f"not {value!r}"
        )


def _ip_address(value: str, setting: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise UsageError(f"{setting} must be an IP address, not {value!r}") from None


def _read_site_table(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"configuration file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read configuration file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path} is nested too deeply to be a configuration file") from None
    site = document.get("site", {})
    if not isinstance(site, dict):
        raise UsageError(f"{path}: [site] must be a table")
    return typed_settings({key.replace("-", "_"): value for key, value in site.items()}, path)


def typed_settings(values: dict[str, Any], where: object) -> dict[str, Any]:
    """``values`` if each names a setting and has its type (integers taken for seconds), else
    a usage error naming ``where`` they come from (a file, a bundle's manifest)."""
    unknown = sorted(set(values) - set(SETTING_NAMES))
    if unknown:
        raise UsageError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTING_NAMES)}"
        )
    typed = dict(values)
    for name, value in values.items():
        default = getattr(Settings(), name)
        # Optional settings default to None and take a string when given.
        expected = str if default is None else type(default)
        if default is None and value is None:
            continue  # as a bundle records an optional setting left unset
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            typed[name] = float(value)
        elif not isinstance(value, expected) or isinstance(value, bool) is not (expected is bool):
            raise UsageError(f"{where}: {name} must be a {expected.__name__}")
    return typed
