"""Shared fixtures: the real lab (kube-apiserver + etcd), scenarios, goldens."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).parent
# The lab and the scenario helpers are plain folders under tests/, imported by name.
sys.path.insert(0, str(TESTS))

pytest_plugins = ["lab_fixtures"]
