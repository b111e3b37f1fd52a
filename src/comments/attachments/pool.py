"""A process pool with a per-job time limit: a worker that runs too long is killed and replaced.

`concurrent.futures` cannot stop one stuck task, and one hostile PDF must not
hang a run, so this pool keeps a pipe to each worker and its own deadlines.
Workers start through `forkserver` (never a plain fork of a parent that holds
DuckDB and HTTP threads) and tell the pool when they are ready, so start-up
time does not count against a job's limit.

Each worker leads its own process group, with the tools it starts (tesseract,
antiword) in it: a worker over its limit is killed with everything it started,
and the terminal's Ctrl-C reaches only the parent, which decides what an
interrupted run keeps (it kills the workers on its way out; an interrupted
file stays pending, never 'failed'). The kernel kills the forkserver, the
workers and their tools when the parent is gone, even after a SIGKILL
(comments.processes, forkserver_init).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait

_READY = "ready"
# Address-space cap per worker: a hostile file that makes a parser allocate
# without bound fails that file (MemoryError, or the worker dies and is
# replaced) instead of pushing the machine into swap.
WORKER_MEMORY_BYTES = 4 * 1024**3


def _serve(conn: Connection, fn: Callable, sys_path: list[str]) -> None:
    _own_group()
    # Tesseract starts one thread per core by default; the pool already uses every core.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if WORKER_MEMORY_BYTES and (soft == resource.RLIM_INFINITY or soft > WORKER_MEMORY_BYTES):
            cap = WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(WORKER_MEMORY_BYTES, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the time limit still applies
    sys.path[:] = sys_path  # so `fn` (pickled by reference) is importable here too
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        key, args = job
        try:
            out = fn(*args)
        except BaseException as exc:  # report, never die silently
            out = {"status": "failed", "reason": f"extractor error: {type(exc).__name__}: {exc}"[:300]}
        try:
            conn.send((key, out))
        except (BrokenPipeError, OSError):
            return


def _own_group() -> None:
    """This worker leads its own process group and dies with its parent, and so do the tools it runs."""
    import signal
    import subprocess

    from comments.processes import die_with_parent

    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; a stray Ctrl-C must not fail a file
    die_with_parent()

    class _DyingWithWorker(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("preexec_fn", die_with_parent)
            super().__init__(*args, **kwargs)

    # This process is ours alone: every tool it starts (pytesseract, antiword) goes through here.
    subprocess.Popen = _DyingWithWorker


class _Worker:
    def __init__(self, ctx, fn) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(child, fn, list(sys.path)), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.job_key = None
        self.deadline = None

    def kill(self) -> None:
        from comments.processes import kill_group

        kill_group(self.process.pid)
        self.process.join(5)
        self.conn.close()


class TimedPool:
    """Run `fn(*args)` for each (key, args) job on `workers` processes, `time_limit` seconds each.

    `run(jobs)` yields (key, result) as jobs finish, in any order. A job over
    its limit yields `on_timeout(key)`; a worker that dies yields `on_crash(key)`.
    """

    def __init__(
        self,
        fn: Callable,
        *,
        workers: int | None = None,
        time_limit: float = 300.0,
        on_timeout: Callable[[float], dict] | None = None,
        on_crash: Callable[[int | None], dict] | None = None,
    ) -> None:
        self.fn = fn
        self.size = max(1, workers or os.cpu_count() or 1)
        self.time_limit = time_limit
        self.on_timeout = on_timeout or (lambda limit: {"status": "failed", "reason": f"timed out after {limit:g} s"})
        self.on_crash = on_crash or (lambda code: {"status": "failed", "reason": f"extractor process died (exit code {code})"})
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self._ctx = mp.get_context(method)
        if method == "forkserver":  # takes effect when the forkserver starts (once per process)
            self._ctx.set_forkserver_preload(["__main__", "comments.attachments.forkserver_init"])
        self._workers: list[_Worker] = []
        self.killed = 0
        self._startup_failures = 0

    def __enter__(self) -> TimedPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ensure_workers(self, wanted: int) -> None:
        while len(self._workers) < wanted:
            self._workers.append(_Worker(self._ctx, self.fn))

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self.killed += 1
        self._workers.remove(worker)

    def run(self, jobs: Iterable[tuple[object, tuple]]) -> Iterator[tuple[object, dict]]:
        queue = deque(jobs)
        if not queue:
            return
        in_flight = 0
        while queue or in_flight:
            self._ensure_workers(min(self.size, len(queue) + in_flight))
            for worker in self._workers:
                if worker.ready and worker.job_key is None and queue:
                    key, args = queue.popleft()
                    worker.conn.send((key, args))
                    worker.job_key, worker.deadline = key, time.monotonic() + self.time_limit
                    in_flight += 1
            deadlines = [w.deadline for w in self._workers if w.job_key is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 5.0
            for conn in wait([w.conn for w in self._workers], timeout):
                worker = next(w for w in self._workers if w.conn is conn)
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    worker.process.join(1)
                    key = worker.job_key
                    code = worker.process.exitcode
                    if not worker.ready:
                        self._startup_failures += 1
                        if self._startup_failures > 3 * self.size:
                            raise RuntimeError(f"extraction workers keep dying at start-up (exit code {code})") from None
                    self._replace(worker)
                    if key is not None:
                        in_flight -= 1
                        yield key, self.on_crash(code)
                    continue
                if message == _READY:
                    worker.ready = True
                    continue
                key, out = message
                worker.job_key = worker.deadline = None
                in_flight -= 1
                yield key, out
            now = time.monotonic()
            for worker in [w for w in self._workers if w.job_key is not None and w.deadline <= now]:
                key = worker.job_key
                self._replace(worker)
                in_flight -= 1
                yield key, self.on_timeout(self.time_limit)

    def close(self) -> None:
        """Idle workers are told to stop; busy ones (an interrupted run) are killed with what they started."""
        from comments.processes import kill_group

        for worker in self._workers:
            try:
                if worker.job_key is None:
                    worker.conn.send(None)
                else:
                    kill_group(worker.process.pid)
            except OSError:
                pass
        deadline = time.monotonic() + 2
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                kill_group(worker.process.pid)
                worker.process.join(2)
            worker.conn.close()
        self._workers.clear()
