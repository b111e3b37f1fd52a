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


# A process that calls `own_children()` names itself here ("pid:start time"); its
# descendants read it when they start.
OWNER_ENV = "COMMENTS_CHILDREN_DIE_WITH"


def own_children() -> None:
    """Processes this one starts from now on end when it ends, even when it is killed.

    For children started by code we do not control (Prefect's runner spawns a
    process per flow run): they inherit the environment, and each checks it
    as it starts (`die_with_owner`, run when the `comments` package is
    imported, before anything else of ours).
    """
    os.environ[OWNER_ENV] = f"{os.getpid()}:{_started(os.getpid())}"


def die_with_owner() -> None:
    """If an ancestor called `own_children()`: die with it, or at once if it has already ended.

    A direct child asks the kernel (PR_SET_PDEATHSIG); any descendant that
    starts after the owner ended (a flow-run process still importing when
    the command was killed) ends itself. Its own children are ours too: they
    end with it (`die_with_parent` where we start them).
    """
    owner = os.environ.get(OWNER_ENV, "")
    pid, _, started = owner.partition(":")
    if not pid.isdigit() or int(pid) == os.getpid():
        return
    if os.getppid() == int(pid):
        die_with_parent()
    if _started(int(pid)) != started:  # gone (or its pid reused): nothing will tell us
        os.kill(os.getpid(), signal.SIGKILL)


def _started(pid: int) -> str:
    """The process's start time as /proc gives it (clock ticks since boot), '' when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "" if sys.platform.startswith("linux") else "?"
