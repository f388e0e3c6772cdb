"""``python -m globalnet_doctor``."""

from __future__ import annotations

from globalnet_doctor.cli import run

run()
