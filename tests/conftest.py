"""Shared fixtures: the bundled real docket, a loopback regulations.gov server, the API env.

Helpers may append their own fixtures at the end, each in a clearly marked section.
"""

from __future__ import annotations

import os
from pathlib import Path

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

# ---------------------------------------------------------------------- scale (issue 11)
# The suite runs the same on every machine, whatever the developer's shell exports: no
# Prefect server of theirs (runs would be recorded there, and shared limits turned on
# against keys it has no limits for), and a held database reported after 1 s, not the
# 120 s a worker waits (tests that need a longer wait set COMMENTS_DB_WAIT themselves).
for _name in ("PREFECT_API_URL", "PREFECT_PROFILE", "COMMENTS_SHARED_LIMITS", "COMMENTS_PREFECT",
              "COMMENTS_WATCHLIST", "COMMENTS_DB", "REGULATIONS_GOV_API_KEY", "REGULATIONS_GOV_BASE_URL"):
    os.environ.pop(_name, None)
os.environ["PREFECT_PROFILES_PATH"] = os.path.join(os.path.dirname(__file__), "data", "prefect-profiles.toml")
os.environ["COMMENTS_DB_WAIT"] = "1"
# Prefect's local servers (in-process, in Dask workers, in CLI subprocesses) get the product's own
# start-up timeout (flows/__init__.py), not Prefect's 20 s, which a loaded 2-core machine misses.
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
# A Prefect home of this worker's own, not the developer's ~/.prefect: the ephemeral servers the
# flows under test start keep their database there. Tests marked `prefect` find it migrated
# (prefect_template: 9 s to start instead of 22 s).
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="comments-tests-prefect-home-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], True)
# Prefect reads its settings from the environment once, at first import: imported here, from the
# clean environment, a test that points PREFECT_API_URL at its own server for a while (the scale
# test, for its subprocesses) cannot leave this worker's later tests talking to that dead server.
import prefect.settings  # noqa: E402,F401


def pytest_collection_modifyitems(config, items):
    """The scale test first: it is the longest, and xdist's other worker runs the rest meanwhile."""
    items.sort(key=lambda item: item.get_closest_marker("scale") is None)
    _build_prefect_template_meanwhile(config, items)


def _build_prefect_template_meanwhile(config, items) -> None:
    """Build the migrated Prefect database in the background while the first tests run, when a test
    will need it (once per machine and Prefect version; only those tests wait for it)."""
    import subprocess
    import sys

    import prefect_template

    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    if worker != "gw0" or prefect_template.ready() or not any(i.get_closest_marker("prefect") for i in items):
        return
    config._prefect_template_build = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("prefect_template.py"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def pytest_unconfigure(config):
    build = getattr(config, "_prefect_template_build", None)
    if build is not None and build.poll() is None:
        build.kill()  # a build cut short leaves no template (it is renamed into place when whole)
        build.wait()


def pytest_runtest_setup(item):
    """A test that starts a Prefect server finds this worker's Prefect database migrated."""
    if item.get_closest_marker("prefect") is not None:
        import prefect_template

        prefect_template.seed(Path(os.environ["PREFECT_HOME"]) / "prefect.db")


@pytest.fixture
def prefect_harness(monkeypatch):
    """`prefect_test_harness`, its fresh database a copy of the migrated one (9 s to start, not 22 s)."""
    import prefect.testing.utilities as harness_module
    import prefect_template

    def fresh_dir() -> str:
        folder = tempfile.mkdtemp(prefix="comments-prefect-harness-")
        prefect_template.seed(Path(folder) / "prefect-test.db")  # the file name the harness uses
        return folder

    monkeypatch.setattr(harness_module, "mkdtemp", fresh_dir)
    # its default start-up timeout, 30 s, is close to what a loaded 2-core machine takes: the
    # product's own ephemeral timeout instead
    return lambda: harness_module.prefect_test_harness(server_startup_timeout=120)
