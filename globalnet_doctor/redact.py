"""Scrubbing secrets out of everything a support bundle collects.

Rules (docs/bundle.md): values under keys that name a secret (token, password, secret, psk, or
ending in "key"); PEM blocks; JWTs; IPsec keys in `ip xfrm state` output (enc, auth, aead); the
same inside `kubectl.kubernetes.io/last-applied-configuration` annotations. Every redaction is
recorded (where and which rule) for the bundle's manifest; the values themselves never are.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

REDACTED = "<redacted>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_SECRET_KEY = re.compile(r"(token|passw(or)?d|secret|psk|credential)", re.I)
_KEY_SUFFIX = re.compile(r"(^|[a-z0-9_.-])key$", re.I)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.S)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+")
_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
_XFRM_KEY = re.compile(r"(?m)^(\s*(?:enc|auth|auth-trunc|aead|comp)\s+\S+\s+)(0x[0-9a-fA-F]+)")
# Keys whose values are names or references, never secret material.
_HARMLESS_KEYS = {"key", "secretname", "secretref", "keyref", "tokenreviews"}


def secret_key(name: str) -> bool:
    lowered = name.lower()
    if lowered in _HARMLESS_KEYS or lowered.endswith(("secretname", "secretref")):
        return False
    return bool(_SECRET_KEY.search(name) or _KEY_SUFFIX.search(name))


@dataclass
class Redactions:
    """Where redactions happened: (member, location, rule)."""

    entries: list[dict[str, str]] = field(default_factory=list)

    def add(self, member: str, where: str, rule: str) -> None:
        self.entries.append({"member": member, "where": where, "rule": rule})


def _hides_secret(blob: str) -> bool:
    """Whether a base64 string decodes to a PEM block or a JWT (a CA bundle or token field)."""
    try:
        decoded = base64.b64decode(blob, validate=True).decode("utf-8", "replace")
    except ValueError:
        return False
    return bool(_PEM.search(decoded) or _JWT.search(decoded) or "PRIVATE KEY" in decoded)


def scrub_text(text: str, member: str, where: str, log: Redactions) -> str:
    """PEM blocks, JWTs, IPsec keys and base64 blobs hiding either, replaced inside text."""
    hidden = [m.group(0) for m in _BASE64_BLOB.finditer(text) if _hides_secret(m.group(0))]
    for blob in hidden:
        text = text.replace(blob, REDACTED)
    if hidden:
        log.add(member, where, "base64-secret")
    for rule, pattern, replacement in (
        ("pem-block", _PEM, REDACTED),
        ("jwt", _JWT, REDACTED),
    ):
        text, count = pattern.subn(replacement, text)
        if count:
            log.add(member, where, rule)
    text, count = _XFRM_KEY.subn(lambda m: m.group(1) + REDACTED, text)
    if count:
        log.add(member, where, "xfrm-key")
    return text


def scrub(value: Any, member: str, log: Redactions, where: str = "$") -> Any:
    """A copy of JSON data with secret values replaced."""
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        # An env var or similar {name, value} pair whose name says it is secret.
        secret_pair = isinstance(value.get("name"), str) and secret_key(value["name"])
        for key, item in value.items():
            path = f"{where}.{key}"
            if secret_pair and key == "value" and isinstance(item, str) and item:
                cleaned[key] = REDACTED
                log.add(member, path, "secret-named-value")
            elif key == LAST_APPLIED and isinstance(item, str):
                cleaned[key] = _scrub_embedded_json(item, member, log, path)
            elif (
                secret_key(str(key))
                and item not in (None, "", [], {})
                and not isinstance(item, bool)
            ):
                cleaned[key] = REDACTED
                log.add(member, path, "secret-key")
            else:
                cleaned[key] = scrub(item, member, log, path)
        return cleaned
    if isinstance(value, list):
        return [scrub(item, member, log, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, str):
        return scrub_text(value, member, where, log)
    return value


def _scrub_embedded_json(text: str, member: str, log: Redactions, where: str) -> str:
    try:
        embedded = json.loads(text)
    except ValueError:
        return scrub_text(text, member, where, log)
    return json.dumps(scrub(embedded, member, log, where), sort_keys=True)
