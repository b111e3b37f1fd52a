"""Ctrl-C and SIGTERM stop any command within seconds, keeping what it stored.

The CLI runs each command inside `handling()`, which turns SIGINT and SIGTERM
into `Interrupted`, raised in the main thread. Clean-ups run on the way out
(a sync run is marked failed, an attachment batch's unfinished rows stay
`pending` for the next run, downloads are cancelled, worker processes killed),
then the CLI prints one line and exits 128 + the signal number (130, 143).

Python runs a signal handler only between bytecodes of the main thread, so a
long DuckDB query would hold it off (measured: over 20 s for a large scan).
The C-level handler also writes the signal number to a wakeup fd: a thread
waiting on it interrupts the queries running on the open DuckDB connections
(`track`) a moment later.

If the process has not ended `GRACE_S` seconds after the signal (a thread stuck
in a library), or on a second Ctrl-C, it exits at once with the same code and
line. The store is as safe under that as under SIGKILL (every batch commits
atomically; the next run finishes the rest), and child processes end with it
(comments.processes).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import weakref
from contextlib import contextmanager

GRACE_S = 5.0
# How long after the signal running DuckDB queries are interrupted (the main thread reacts first).
REACT_S = 0.3
SIGNALS = (signal.SIGINT, signal.SIGTERM)
MESSAGE = "interrupted ({name}): what was stored so far is kept; run the same command again to resume"


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, so `except Exception` clean-ups do not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:  # what a sync run records as its message
        return f"interrupted by {signal.Signals(self.signum).name}"


_connections: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()
_state = {"handled": None, "seen": None, "told": False}


def track(con) -> None:
    """Interrupt this DuckDB connection's running query when a signal arrives (the store calls it)."""
    with _lock:
        _connections.add(con)


def received() -> int | None:
    """The first SIGINT or SIGTERM seen while `handling()` was active, or None."""
    return _state["handled"] or _state["seen"]


def message(signum: int) -> str:
    return MESSAGE.format(name=signal.Signals(signum).name)


def tell(signum: int) -> None:
    """Print the one interrupted line, once (the main thread and the exit timer may both try)."""
    with _lock:
        if _state["told"]:
            return
        _state["told"] = True
    try:
        print(message(signum), file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _raise(signum, frame) -> None:
    if _state["handled"] is None:
        _state["handled"] = signum
        raise Interrupted(signum)
    # A repeat while clean-ups run: let them finish (the watcher enforces GRACE_S).


def _force_exit(signum: int) -> None:
    tell(signum)
    os._exit(128 + signum)


def _interrupt_queries() -> None:
    with _lock:
        cons = list(_connections)
    for con in cons:
        try:
            con.interrupt()
        except Exception:  # closed meanwhile
            pass


def _watch(reader: socket.socket) -> None:
    while True:
        try:
            data = reader.recv(64)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            if signum not in SIGNALS:
                continue
            if _state["seen"] is None:
                _state["seen"] = signum
                timer = threading.Timer(GRACE_S, _force_exit, (signum,))
                timer.daemon = True
                timer.start()
                # DuckDB may run the Python handler inside a query and still go on with it,
                # so whatever the handler did, the queries running a moment later are stopped
                # (an idle connection is not affected; a clean-up query that began meanwhile
                # may be, and the next run completes what it would have recorded).
                time.sleep(REACT_S)
                _interrupt_queries()
            elif signum == signal.SIGINT:  # Ctrl-C twice: do not wait for clean-ups
                _force_exit(_state["seen"])


@contextmanager
def handling():
    """Within: SIGINT/SIGTERM raise `Interrupted` in the main thread (no-op in other threads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.update(handled=None, seen=None, told=False)
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    old_handlers = {sig: signal.signal(sig, _raise) for sig in SIGNALS}
    watcher = threading.Thread(target=_watch, args=(reader,), name="signal-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        # Once interrupted, stay armed while the process winds down (thread joins, exit
        # hooks): a second Ctrl-C still ends it at once, a stuck exit still ends after GRACE_S.
        if not received():
            _disarm(old_handlers, old_fd, writer, reader, watcher)


def _disarm(old_handlers, old_fd, writer, reader, watcher) -> None:
    for sig, handler in old_handlers.items():
        signal.signal(sig, handler)
    signal.set_wakeup_fd(old_fd)
    writer.close()  # the watcher sees EOF and ends
    watcher.join(1)
    reader.close()
