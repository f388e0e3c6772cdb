"""gdoctor: the doctor for Submariner Globalnet multi-cluster networking.

This package is the engine. It names no concrete check or fix: those are plugins found through
the entry-point groups ``globalnet_doctor.checks`` and ``globalnet_doctor.fixes``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
