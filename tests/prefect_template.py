"""A migrated, empty Prefect database that every Prefect server a test starts begins from.

A Prefect server started on a new SQLite file first runs its ~100 migrations: 21 s of the
22 s it takes to answer on this 2-core machine, paid again by every test that starts one
(a fresh Prefect home, `prefect_test_harness`, the scale test's server). A user pays it once:
their Prefect home keeps its database. The suite does the same: the migrations run once per
machine and Prefect version (under a lock, so xdist workers wait for one build), and each
server starts from a copy (9 s).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path


def _root() -> Path:
    return Path(tempfile.gettempdir()) / f"comments-tests-prefect-{version('prefect')}-uid{os.getuid()}"


def ready() -> bool:
    return (_root() / "prefect.db").exists()


def template() -> Path:
    """The migrated database, built on first use (or waited for, if another process builds it); its path."""
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / "prefect.db"
    if target.exists():
        return target
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its process dies
        if target.exists():
            return target
        for stale in root.glob("build-*.db*"):  # a build killed mid-way
            stale.unlink()
        build = root / f"build-{os.getpid()}.db"
        env = {
            **os.environ,
            "PREFECT_HOME": str(root / "home"),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{build}",
        }
        env.pop("PREFECT_API_URL", None)
        done = subprocess.run(
            [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "server", "database", "upgrade", "-y"],
            env=env, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"Prefect's migrations failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        # one self-contained file: the write-ahead log folded in, so a plain copy is the whole database
        con = sqlite3.connect(build)
        con.execute("pragma wal_checkpoint(truncate)")
        con.execute("pragma journal_mode=delete")
        con.close()
        os.replace(build, target)
    return target


def seed(path: Path) -> Path:
    """Put a copy of the migrated database at `path`, unless a database is already there."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".seed-{os.getpid()}")
        shutil.copyfile(template(), tmp)
        os.replace(tmp, path)
    return path


if __name__ == "__main__":  # tests/conftest.py builds it in the background as the session starts
    template()
