"""What the host adapters share: how an OS error reads in a view or a write's outcome, and the
netlink route protocol numbers (read in routes, written back on undo)."""

from __future__ import annotations

PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
"""Netlink route protocol numbers and the names ``ip route`` shows."""


def describe(exc: BaseException) -> str:
    """One line for an exception: the OS's own words when it has them."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
