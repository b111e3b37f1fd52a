"""Who holds a DuckDB file, asked without taking a lock ourselves; and a reader's lock on it.

DuckDB takes a POSIX record lock on its database file: a write lock for a
read-write connection, a read lock for a read-only one. `fcntl(F_GETLK)`
reports a conflicting lock and its process id without acquiring anything,
so asking never stands in a writer's way (trying a lock would, for an
instant: a `comments sync` starting in that instant would fail).

`read_lock(fd)` takes a read lock that DuckDB's writers see (`store.frozen`).
It is an open-file-description lock (Linux's F_OFD_SETLK): a classic POSIX
lock belongs to the process and is dropped when the process closes *any*
descriptor of the file (copying the file would end it); this one lasts until
its own descriptor is closed. It conflicts with DuckDB's locks all the same.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
_FLOCK = "hhqqi4x"


def holder(path: str | os.PathLike, *, writers_only: bool = False) -> int | None:
    """The id of a process holding a lock on `path` (any lock, or only a write lock), else None.

    Locks held by this process are not reported (POSIX locks are per process).
    A missing file has no holder.
    """
    path = Path(path)
    if fcntl is None or not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        # asking "could I take a read lock?" finds only write locks; "a write lock?" finds any
        want = fcntl.F_RDLCK if writers_only else fcntl.F_WRLCK
        if sys.platform.startswith("linux"):
            res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK, want, 0, 0, 0, 0))
            l_type, _, _, _, pid = struct.unpack(_FLOCK, res)
            return None if l_type == fcntl.F_UNLCK else (pid or -1)
        return _probe(fd, want)  # pragma: no cover - other systems lay out struct flock differently
    finally:
        os.close(fd)


def _probe(fd: int, want: int) -> int | None:  # pragma: no cover
    """Elsewhere: try the lock and let go at once (a holder's pid is not known: -1)."""
    flag = fcntl.LOCK_SH if want == fcntl.F_RDLCK else fcntl.LOCK_EX
    try:
        fcntl.lockf(fd, flag | fcntl.LOCK_NB)
    except OSError:
        return -1
    fcntl.lockf(fd, fcntl.LOCK_UN)
    return None


def read_lock(fd: int) -> bool:
    """Take a read lock on the whole file open at `fd` (held until `fd` is closed); False if a writer holds it."""
    if fcntl is None:  # pragma: no cover - not POSIX: nothing to coordinate with
        return True
    ofd = getattr(fcntl, "F_OFD_SETLK", None)
    try:
        if ofd is not None and sys.platform.startswith("linux"):
            fcntl.fcntl(fd, ofd, struct.pack(_FLOCK, fcntl.F_RDLCK, 0, 0, 0, 0))
        else:  # pragma: no cover - a process-wide lock: copying the file in this process would drop it
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
