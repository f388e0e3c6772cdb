"""Child processes that cannot outlive the test run.

Three independent safety nets, because a test run can end in three ways:
- normal teardown calls `ManagedProcess.stop()`;
- an interpreter exit that skips teardown (second Ctrl-C, sys.exit) runs the atexit hook;
- a hard kill of the interpreter (SIGKILL, or SIGTERM, which skips atexit) is covered by the
  kernel's parent-death signal, set with `setpriv --pdeathsig` so no `preexec_fn` is needed.
Every child also gets its own session (process group) so a terminal Ctrl-C does not kill it
before teardown runs, and so stop() can signal the whole group (socat forks per connection).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from .errors import LabUnavailable

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()


def require_tool(name: str, package: str) -> str:
    """Absolute path of a host tool, or LabUnavailable naming the Debian package to install."""
    path = shutil.which(name)
    if path is None:
        raise LabUnavailable(
            f"{name!r} not found on PATH; install the Debian package {package!r} "
            "(tests/bootstrap.sh installs every lab prerequisite)"
        )
    return path


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it; a tiny race remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ManagedProcess:
    """One child process whose combined stdout/stderr go to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    def start(self) -> ManagedProcess:
        setpriv = require_tool("setpriv", "util-linux")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # The parent-death signal fires when the *thread* that forked the child exits, so the
        # lab must be started from a long-lived thread (pytest fixtures run on the main thread).
        self._popen = subprocess.Popen(
            [setpriv, "--pdeathsig", "KILL", "--", *self.argv],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=self._env,
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def exit_code(self) -> int | None:
        """None while running, else the exit status (negative: killed by that signal)."""
        return None if self._popen is None else self._popen.poll()

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def describe_failure(self) -> str:
        code = self.exit_code()
        state = "still running" if code is None else f"exited with {code}"
        return f"--- {self.name} ({state}), log {self.log_path}:\n{self.tail()}"

    def signal_group(self, sig: signal.Signals) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        # The group may already be gone between poll() and killpg().
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def wait(self, timeout: float) -> bool:
        """True when the process has exited within timeout seconds."""
        if self._popen is None:
            return True
        try:
            self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def finish(self) -> None:
        """Bookkeeping after the process is known dead: reap, close the log, unregister."""
        if self._popen is not None and self._popen.poll() is None:
            self.signal_group(signal.SIGKILL)
            self._popen.wait()
        # socat forks a child per connection; they share the group and must go too.
        if self._popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        with _LIVE_LOCK:
            _LIVE.discard(self)


def stop_all(processes: Sequence[ManagedProcess], grace: float = 3.0) -> None:
    """SIGTERM every process group at once, wait up to `grace` seconds in total, then SIGKILL."""
    for proc in processes:
        proc.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes:
        proc.wait(max(0.0, deadline - time.monotonic()))
        proc.finish()


def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for proc in leftovers:
        proc.signal_group(signal.SIGKILL)
    for proc in leftovers:
        proc.finish()


atexit.register(_kill_leftovers)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll a zero-argument callable until it returns truthy or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
