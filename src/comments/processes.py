"""No process of ours outlives the command that started it, even after a SIGKILL.

A parent that is killed with SIGKILL runs no cleanup, so its children must be
told by the kernel: Linux's `PR_SET_PDEATHSIG` sends a signal to a process when
the thread that started it ends. `die_with_parent()` asks for that in the
child itself (a `preexec_fn`, or the first thing a worker does); elsewhere it
is a no-op and children are stopped by the parent's normal cleanup only.

A child that runs in its own process group (`own_group_dying_with_parent`) is
also out of reach of the terminal's Ctrl-C, which goes to the whole
foreground group: the parent decides when and how its children stop, so an
interrupted run can record what it finished first.
"""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
_libc = None


def _prctl():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.prctl


if sys.platform.startswith("linux"):
    try:
        _prctl()  # loaded in the parent: a preexec_fn then only makes the call
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        _libc = False


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send `sig` to this process when its parent ends; True when it could."""
    if not _libc:
        return False
    return _prctl()(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def own_group_dying_with_parent() -> None:
    """`preexec_fn` for a child process: its own process group, killed when the parent ends."""
    os.setpgid(0, 0)
    die_with_parent()


def kill_group(pid: int) -> None:
    """SIGKILL a child that leads its own process group, and everything it started."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
