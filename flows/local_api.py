"""Prefect's local API server, for flows run with no Prefect API configured (COMMENTS_PREFECT=on).

Prefect starts that server on first use as a uvicorn subprocess (8-12 s here)
and stops it at exit. `ensure()` starts it the same way, from the main thread,
with two changes to how the subprocess is created:

- PR_SET_PDEATHSIG: the kernel kills it when this process ends, SIGKILL
  included (Prefect's atexit hook never runs then: ten orphaned servers of
  ~200 MB each were once found listening).
- its own process group: the terminal's Ctrl-C reaches only this process,
  so an interrupted flow run can still record its state on a live server
  before the exit hook stops it.
"""

from __future__ import annotations

import subprocess

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)
from comments.processes import own_group_dying_with_parent


class _OwnedPopen(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("preexec_fn", own_group_dying_with_parent)
        super().__init__(*args, **kwargs)


class _Subprocess:
    """`subprocess` as Prefect's server module sees it: the same, but children die with us."""

    Popen = _OwnedPopen

    def __getattr__(self, name: str):
        return getattr(subprocess, name)


def ensure() -> None:
    """Start the local API server unless an API is configured; a no-op when it already runs."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    import os

    from prefect.server.api import server as server_module

    # A server of this process serves no other worker: there are no limits to share
    # (flows/limits.py), for this process and the flow-run processes it starts.
    os.environ.setdefault("COMMENTS_SHARED_LIMITS", "off")

    if not isinstance(server_module.subprocess, _Subprocess):
        server_module.subprocess = _Subprocess()
    server_module.SubprocessASGIServer().start()
