"""Exit codes, documented in docs/exit-codes.md; CI depends on them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    """Nothing at or above the ``--fail-on`` threshold."""
    FINDINGS = 1
    """Findings at or above the threshold."""
    USAGE = 2
    """Usage or configuration error (bad flag, kubeconfig, context, configuration file)."""
    INCOMPLETE = 3
    """The run was incomplete (a cluster unreachable, a check ``error``), nothing over threshold."""
