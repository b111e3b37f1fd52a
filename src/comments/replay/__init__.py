"""A regulations.gov API v4-compatible server over a local snapshot, for tests and the demo.

    from comments.replay import Snapshot, Faults, ReplayServer

    snap = Snapshot.from_mirrulations(bundled_mirrulations())   # or Snapshot.synthetic(50_000)
    with ReplayServer(snap, faults=Faults(server_error_rate=0.05)) as server:
        ...  # REGULATIONS_GOV_BASE_URL = server.base_url, key "test-key"

`python -m comments.replay --help` runs it by hand.
"""

from comments.replay.faults import Faults
from comments.replay.server import ReplayServer, Stats
from comments.replay.snapshot import EASTERN, Snapshot

__all__ = ["EASTERN", "Faults", "ReplayServer", "Snapshot", "Stats"]
