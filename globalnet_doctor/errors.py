"""Errors the user caused (bad input); the CLI prints them on one line and exits 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input: a flag, a kubeconfig, a context, a configuration file."""
