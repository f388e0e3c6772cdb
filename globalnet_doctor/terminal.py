"""Text from a cluster, a host file or a bundle made safe to show: no control characters reach
a terminal (a name holding ESC could clear the screen, CR/LF could fake a line)."""

from __future__ import annotations

import unicodedata


def printable(text: str, limit: int | None = None) -> str:
    """``text`` with every character that is not printable escaped as Python writes it
    (``\\x1b``, ``\\n``, ``\\u202e``), cut to ``limit`` characters when given."""
    if text.isprintable():
        safe = text
    else:
        safe = "".join(c if c.isprintable() else _escaped(c) for c in text)
    if limit is not None and len(safe) > limit:
        return safe[: max(0, limit - 1)] + "…"
    return safe


_XML_ALLOWED_CONTROLS = frozenset("\t\n\r")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids (C0 controls but tab, newline and carriage
    return; lone surrogates; U+FFFE and U+FFFF) escaped as ``printable`` writes it."""
    return "".join(
        c
        if (c >= " " or c in _XML_ALLOWED_CONTROLS)
        and not ("\ud800" <= c <= "\udfff" or c in "\ufffe\uffff")
        else _escaped(c)
        for c in text
    )


def _escaped(character: str) -> str:
    code = ord(character)
    if character in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[character]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes: East Asian wide characters two, combining
    marks none."""
    return sum(_cell_width(c) for c in text)


def fit(text: str, width: int) -> str:
    """``text`` made printable and cut to ``width`` terminal cells, with an ellipsis when cut."""
    safe = printable(text)
    if cells(safe) <= width:
        return safe
    kept, used = [], 0
    for character in safe:
        size = _cell_width(character)
        if used + size > width - 1:
            break
        kept.append(character)
        used += size
    return "".join(kept) + "…"


def _cell_width(character: str) -> int:
    if unicodedata.combining(character):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
