"""The layering lint bites: only globalnet_doctor/adapters/ talks to the clusters and touches the
machine, and checks/ and fixes/ do not even touch files.

ruff runs with the repository's own configuration (pyproject.toml, checks/ruff.toml,
fixes/ruff.toml) on planted sources given through stdin under a path in each folder, so the test
fails when a configuration stops banning what it should, or starts banning the adapters. The
``open`` builtin is invisible to ruff's banned-api rule; an AST walk covers it. Last, what fixes
use instead of ``os`` (HostView's paths under --root, HostFile.real_path) gives what ``os`` gave.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Banned everywhere but the adapters (and tests).
ENGINE_BANNED = [
    "import kubernetes",
    "from kubernetes.client import CoreV1Api",
    "from pyroute2 import IPRoute",
    "import scapy.all",
    "import dns.message",
    "import socket",
    "import subprocess",
]
# Banned in checks/ and fixes/ on top of those.
PURE_BANNED = ["import os", "import os.path", "from pathlib import Path", "import shutil"]


def _tid251(path: str, source: str) -> list[str]:
    """The TID251 messages ruff reports for ``source`` as if it were the file ``path``."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--output-format",
            "json",
            "--stdin-filename",
            str(ROOT / path),
            "-",
        ],
        input=f"from __future__ import annotations\n\n{source}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    # 0: nothing reported, 1: something reported; anything else is ruff failing (a bad config).
    assert done.returncode in (0, 1), done.stderr
    return [d["message"] for d in json.loads(done.stdout) if d["code"] == "TID251"]


@pytest.mark.parametrize("folder", ["checks", "fixes"])
@pytest.mark.parametrize("source", ENGINE_BANNED + PURE_BANNED)
def test_checks_and_fixes_import_neither_clients_nor_the_file_system(
    folder: str, source: str
) -> None:
    assert _tid251(f"{folder}/planted.py", source)


@pytest.mark.parametrize("source", ENGINE_BANNED)
def test_the_engine_imports_no_client_library(source: str) -> None:
    assert _tid251("globalnet_doctor/planted.py", source)
    assert _tid251("globalnet_doctor/formatters/planted.py", source)


@pytest.mark.parametrize("source", PURE_BANNED)
def test_the_engine_may_use_the_file_system(source: str) -> None:
    assert _tid251("globalnet_doctor/planted.py", source) == []


@pytest.mark.parametrize("path", ["globalnet_doctor/adapters/planted.py", "tests/planted.py"])
@pytest.mark.parametrize("source", ENGINE_BANNED)
def test_adapters_and_tests_may(path: str, source: str) -> None:
    assert _tid251(path, source) == []


def _banned(config: dict[str, object]) -> dict[str, object]:
    lint = config.get("lint", {})
    assert isinstance(lint, dict)
    tidy = lint.get("flake8-tidy-imports", {})
    assert isinstance(tidy, dict)
    banned = tidy.get("banned-api", {})
    assert isinstance(banned, dict)
    return banned


@pytest.mark.parametrize("folder", ["checks", "fixes"])
def test_nested_configurations_keep_every_root_ban(folder: str) -> None:
    # ruff replaces the banned-api table of the configuration a nested one extends instead of
    # merging it: a ban added to the root only would not apply in checks/ and fixes/.
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    nested = tomllib.loads((ROOT / folder / "ruff.toml").read_text())
    assert nested["extend"] == "../pyproject.toml"
    kept = _banned(nested)
    dropped = {name: ban for name, ban in _banned(root).items() if kept.get(name) != ban}
    assert dropped == {}


# -- the open builtin ------------------------------------------------------------------------

_OPENERS = {"io", "builtins", "codecs", "os"}


def _is_open(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        # Loaded, not only called: ``reader = open`` hands the builtin on.
        return node.id == "open" and isinstance(node.ctx, ast.Load)
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("open", "fdopen")
        and isinstance(node.value, ast.Name)
        and node.value.id in _OPENERS
    )


def opens_files(source: str) -> list[int]:
    """Lines that use the ``open`` builtin, which banned-api cannot see, or ``io.open`` and the
    like (also banned by the configuration; checked here whatever the configuration says)."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if _is_open(node)]


@pytest.mark.parametrize(
    "source",
    [
        "data = open('/etc/resolv.conf').read()",
        "with open(path, 'w') as handle:\n    handle.write('x')",
        "import io\nio.open(path)",
        "import builtins\nbuiltins.open(path)",
        "reader = open\nreader(path)",
    ],
)
def test_the_open_walk_finds_planted_opens(source: str) -> None:
    assert opens_files(source)


def test_the_open_walk_lets_other_opens_be() -> None:
    assert opens_files("state.open = True\nview.open(path)\ndef reopen(): pass\n") == []


@pytest.mark.parametrize(
    "path",
    sorted(p for folder in ("checks", "fixes") for p in (ROOT / folder).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_checks_and_fixes_open_no_file(path: Path) -> None:
    assert opens_files(path.read_text(encoding="utf-8")) == []


# -- what fixes use instead of os ----------------------------------------------------------


@pytest.mark.parametrize("root", ["/", "/tmp/machine", "/tmp/machine/", "relative"])
def test_host_view_paths_are_what_os_path_joined(root: str) -> None:
    import os.path
    from datetime import UTC, datetime

    from globalnet_doctor.host_view import HostView

    view = HostView(observed_at=datetime.now(UTC), root=root)
    relative = "etc/sysctl.d/99-zz-gdoctor.conf"
    key = "net/ipv4/conf/eth0.100/rp_filter"
    assert view.path_under_root(relative) == os.path.join(root, relative)
    assert view.sysctl_proc_path(key) == os.path.join(root, "proc/sys", key)


def test_host_file_real_path_follows_symlinks(tmp_path: Path) -> None:
    from globalnet_doctor.adapters.host_reader import read_host_file

    tmp_path = tmp_path.resolve()  # compared with real paths: no symlink above the test's own
    target = tmp_path / "run" / "resolv.conf"
    target.parent.mkdir()
    target.write_bytes(b"nameserver 10.0.0.1\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "resolv.conf").symlink_to("../run/resolv.conf")
    (tmp_path / "link").symlink_to(tmp_path / "etc")
    read = read_host_file(str(tmp_path / "link" / "resolv.conf"))
    assert read.real_path == str(target.resolve())
    assert read.data == b"nameserver 10.0.0.1\n"
    missing = read_host_file(str(tmp_path / "link" / "absent.conf"))
    assert missing.real_path == str(tmp_path / "etc" / "absent.conf")
    assert missing.data is None
