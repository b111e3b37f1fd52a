"""Shared fixtures: the bundled real docket, a loopback regulations.gov server, the API env.

Helpers may append their own fixtures at the end, each in a clearly marked section.
"""

from __future__ import annotations

import os

import pytest

# In-process Prefect runs print INFO lines through a console handler bound to the
# stream that was stderr when Prefect first configured logging; under pytest's
# capture that stream is closed later ("--- Logging error ---" at exit). The CLI
# hides those lines by default too; tests that want them set the variable themselves.
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"

from comments.replay import ReplayServer, Snapshot
from comments.resources import DEMO_DOCKET, bundled_mirrulations


@pytest.fixture
def bundled_snapshot() -> Snapshot:
    """A fresh, mutable Snapshot of the bundled CMS-2022-0163 docket (647 real comments).

    The files' bytes are cached at module level inside comments.replay, so each
    call only re-parses JSON (~40 ms) and never shares records with another test.
    """
    return Snapshot.from_mirrulations(bundled_mirrulations(), DEMO_DOCKET)


@pytest.fixture
def replay(request):
    """Factory: `replay(snapshot=None, **ReplayServer kwargs)` -> a started server, stopped at teardown.

    Without a snapshot it serves the bundled docket; key "test-key" unless api_keys= says otherwise.
    """
    servers: list[ReplayServer] = []

    def start(snapshot: Snapshot | None = None, **kwargs) -> ReplayServer:
        if snapshot is None:
            snapshot = Snapshot.from_mirrulations(bundled_mirrulations(), DEMO_DOCKET)
        server = ReplayServer(snapshot, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api_env(monkeypatch):
    """Factory: `api_env(server, key="test-key", rate_limit=1_000_000)` points the settings at server."""

    def point(server: ReplayServer, key: str = "test-key", rate_limit: int = 1_000_000) -> ReplayServer:
        monkeypatch.setenv("REGULATIONS_GOV_API_KEY", key)
        monkeypatch.setenv("REGULATIONS_GOV_BASE_URL", server.base_url)
        monkeypatch.setenv("REGULATIONS_GOV_RATE_LIMIT", str(rate_limit))
        return server

    return point


# ======================================================================
# Sections appended by other helpers go below, one marked block each.
# ======================================================================
