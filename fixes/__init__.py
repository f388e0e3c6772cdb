"""The built-in fixes of gdoctor (one per check that has a remedy)."""

from __future__ import annotations

ALL_FIXES: tuple[object, ...] = ()
