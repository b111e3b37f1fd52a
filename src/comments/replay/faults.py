"""Faults the replay server can inject, to test a client's resilience.

Every fault is decided by one seeded random generator, so a single client
paging sequentially sees the same faults on every run with the same seed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Faults:
    server_error_rate: float = 0.0  # random 500/502/503 on any route
    rate_limit_storm: int = 0  # the next N requests get 429 OVER_RATE_LIMIT
    rate_limit_rate: float = 0.0  # random 429s
    retry_after: float | None = None  # Retry-After seconds on 429/503 (None: no header)
    drop_rate: float = 0.0  # close the connection without a response
    truncate_rate: float = 0.0  # 200 with a JSON body cut in half
    failing_ids: frozenset[str] = frozenset()  # comment detail always HTTP 500
    change_while_paging: int = 0  # after each comment-list page, touch N random comments
    latency: float = 0.0  # seconds added per request
    seed: int = 0
    remaining_lag: int = 0  # X-RateLimit-Remaining over-reports by this much (it lags the true count)
    total_overcount: int = 0  # comment lists' totalElements count this many comments the list never shows
    page_size_cap: int = 0  # comment lists silently serve at most this many per page (meta.pageSize says so)


@dataclass
class FaultState:
    """The live, counted-down state of one Faults setting (guarded by a lock)."""

    faults: Faults
    storm_left: int = 0
    rng: random.Random = field(default_factory=random.Random)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, faults: Faults | None) -> FaultState:
        faults = faults or Faults()
        return cls(faults=faults, storm_left=faults.rate_limit_storm, rng=random.Random(faults.seed))

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def take_storm(self) -> bool:
        with self.lock:
            if self.storm_left > 0:
                self.storm_left -= 1
                return True
            return False

    def choice(self, options):
        with self.lock:
            return self.rng.choice(options)

    def sample(self, population, k: int):
        with self.lock:
            return self.rng.sample(population, min(k, len(population)))
