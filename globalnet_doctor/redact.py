"""Scrubbing secrets out of everything a support bundle collects.

Rules (docs/bundle.md): values under keys that name a secret (token, password, secret, psk, or
ending in "key"); PEM blocks; JWTs; IPsec keys in `ip xfrm state` output (enc, auth, aead); the
same inside `kubectl.kubernetes.io/last-applied-configuration` annotations. Every redaction is
recorded (where and which rule) for the bundle's manifest; the values themselves never are.
"""

from __future__ import annotations

import base64
import functools
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
_BASE64_MIN = 40
_BASE64_BLOB = re.compile(rf"[A-Za-z0-9+/]{{{_BASE64_MIN},}}={{0,2}}")
_XFRM_KEY = re.compile(r"(?m)^(\s*(?:enc|auth|auth-trunc|aead|comp)\s+\S+\s+)(0x[0-9a-fA-F]+)")
# What a secret shorter than a base64 blob would contain (JWT, xfrm key, PEM block).
_SHORT_MARKERS = ("eyJ", "0x", "-----BEGIN")
# Whatever any rule would redact contains one of these (lowercased): a word naming a secret (in
# a key, or in the name of a {name, value} pair), a JWT, xfrm or PEM marker; or a base64 run.
_CANDIDATE_WORDS = (
    "token",
    "passw",
    "secret",
    "psk",
    "credential",
    "key",
    "eyj",
    "0x",
    "-----begin",
)
_BASE64_RUN = re.compile(rf"[A-Za-z0-9+/]{{{_BASE64_MIN}}}")
# Keys whose values are names or references, never secret material.
_HARMLESS_KEYS = {"key", "secretname", "secretref", "keyref", "tokenreviews"}


@functools.lru_cache(maxsize=4096)
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
    # Each rule runs only where its pattern could match: almost every string of a cluster
    # object is a short name, and a bundle holds tens of thousands of them.
    if len(text) >= _BASE64_MIN:
        hidden = [m.group(0) for m in _BASE64_BLOB.finditer(text) if _hides_secret(m.group(0))]
        for blob in hidden:
            text = text.replace(blob, REDACTED)
        if hidden:
            log.add(member, where, "base64-secret")
    for rule, marker, pattern in (("pem-block", "-----BEGIN", _PEM), ("jwt", "eyJ", _JWT)):
        if marker in text:
            text, count = pattern.subn(REDACTED, text)
            if count:
                log.add(member, where, rule)
    if "0x" in text:
        text, count = _XFRM_KEY.subn(lambda m: m.group(1) + REDACTED, text)
        if count:
            log.add(member, where, "xfrm-key")
    return text


def scrub(value: Any, member: str, log: Redactions, where: str = "$") -> Any:
    """JSON data with secret values replaced: a copy where something was redacted, the parts
    with nothing to redact shared."""
    return _scrub(value, member, log, (where,))


def _nothing_to_redact(value: Any) -> bool:
    """Whether no rule can apply anywhere inside value, judged on its JSON text by substring
    searches and one regex (C code) instead of a walk in Python over each string and key."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return False
    # Two escapes can hide from a substring search what the walk sees decoded: \uXXXX (any
    # non-ASCII character, which case-folding may turn into a secret's name, or one written
    # inside the JSON of a last-applied annotation) and \/ (which decodes into a base64 run).
    # Other escapes leave words and base64 runs whole.
    if "\\u" in text or "\\/" in text:
        return False
    lowered = text.lower()
    if any(word in lowered for word in _CANDIDATE_WORDS):
        return False
    return _BASE64_RUN.search(text) is None


def _render(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path[1:])


def _scrub(value: Any, member: str, log: Redactions, path: tuple[Any, ...]) -> Any:
    # The path is rendered only when something is redacted: most values never need it.
    if isinstance(value, str):
        if len(value) < _BASE64_MIN and not any(m in value for m in _SHORT_MARKERS):
            return value
        return scrub_text(value, member, str(path[0]) + _render(path), log)
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        # An env var or similar {name, value} pair whose name says it is secret.
        name = value.get("name")
        secret_pair = isinstance(name, str) and secret_key(name)
        for key, item in value.items():
            if secret_pair and key == "value" and isinstance(item, str) and item:
                cleaned[key] = REDACTED
                log.add(member, str(path[0]) + _render((*path, key)), "secret-named-value")
            elif key == LAST_APPLIED and isinstance(item, str):
                where = str(path[0]) + _render((*path, key))
                cleaned[key] = _scrub_embedded_json(item, member, log, where)
            elif (
                secret_key(str(key))
                and item not in (None, "", [], {})
                and not isinstance(item, bool)
            ):
                cleaned[key] = REDACTED
                log.add(member, str(path[0]) + _render((*path, key)), "secret-key")
            elif isinstance(item, (dict, list, str)):
                cleaned[key] = _scrub(item, member, log, (*path, key))
            else:
                cleaned[key] = item
        return cleaned
    if isinstance(value, list):
        # Lists of objects (a LIST's items) are where the bulk is, and most objects hold
        # nothing secret: those are kept as they are.
        return [
            item
            if isinstance(item, dict) and _nothing_to_redact(item)
            else _scrub(item, member, log, (*path, i))
            for i, item in enumerate(value)
        ]
    return value


def _scrub_embedded_json(text: str, member: str, log: Redactions, where: str) -> str:
    try:
        embedded = json.loads(text)
    except ValueError:
        return scrub_text(text, member, where, log)
    return json.dumps(scrub(embedded, member, log, where), sort_keys=True)
