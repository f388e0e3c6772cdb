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


class FixExitCode(enum.IntEnum):
    """``gdoctor fix``: the worst outcome of the run wins (ROLLED_BACK over NOT_FIXED over
    AWAITING)."""

    OK = 0
    """Applied (or nothing to do)."""
    NOT_FIXED = 1
    """Changes pending (``--dry-run``) or a check still failing."""
    REFUSED = 2
    """Usage error, or refused (unsafe without ``--unsafe``, no terminal without ``--yes``, a
    plan that could not be made)."""
    ROLLED_BACK = 3
    """A fix failed and was rolled back."""
    AWAITING = 4
    """The configuration is right, a controller must still react."""


class UndoExitCode(enum.IntEnum):
    OK = 0
    """Every applied, reversible change restored (or nothing to undo)."""
    USAGE = 2
    """A missing or unreadable journal, a bad kubeconfig."""
    NOT_RESTORED = 3
    """Something could not be restored (its line says what)."""
