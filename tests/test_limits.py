"""Shared limits (flows/limits.py): the per-key rate limit's arithmetic, when limits are on, and
that a missing limit stops a request instead of letting it through."""

from __future__ import annotations

import random
import time

import pytest

from comments.errors import ConfigError
from flows import limits


@pytest.mark.parametrize(("budget", "window", "slack"), [(1000, 3600, 5), (400, 20, 2), (50, 10, 1)])
def test_no_window_holds_more_than_the_budget_even_when_requests_arrive_late(budget, window, slack):
    burst, decay = limits.rate_limit_settings(budget, window, slack_s=slack)
    assert 1 <= burst <= 10
    # Greedy: every slot taken the moment it frees (burst at once, then one per 1/decay s), and
    # each request reaching the API anywhere from 0 to `slack` seconds later.
    rng = random.Random(budget)
    taken = [0.0] * burst + [k / decay for k in range(1, int(decay * window * 4))]
    arrivals = sorted(t + rng.uniform(0, slack) for t in taken)
    worst, start = 0, 0
    for end, t in enumerate(arrivals):
        while arrivals[start] <= t - window:
            start += 1
        worst = max(worst, end - start + 1)
    assert worst <= budget
    assert worst >= 0.9 * budget * window / (window + slack) - burst  # and the budget is used, not wasted


def test_a_budget_too_small_or_a_burst_too_big_is_a_clear_error():
    with pytest.raises(ConfigError, match="at least 2"):
        limits.rate_limit_settings(1, 3600)
    with pytest.raises(ConfigError, match="burst"):
        limits.rate_limit_settings(100, 3600, burst=100)


def test_shared_limits_are_on_with_a_prefect_server_unless_turned_off():
    assert limits.enabled({"PREFECT_API_URL": "http://127.0.0.1:4200/api"}) is True
    assert limits.enabled({"PREFECT_API_URL": "http://127.0.0.1:4200/api", "COMMENTS_SHARED_LIMITS": "off"}) is False
    assert limits.enabled({"COMMENTS_SHARED_LIMITS": "on"}) is True
    with pytest.raises(ConfigError, match="auto, on, off"):
        limits.enabled({"COMMENTS_SHARED_LIMITS": "sometimes"})


class _FakePrefect:
    """What the key pacer asks of a Prefect server: its limits, and slots (denied while `deny` > 0)."""

    def __init__(self, limits_: dict[str, tuple[int, float]], deny: int = 0):
        self.limits, self.deny, self.calls = limits_, deny, []

    def read_global_concurrency_limit_by_name(self, name):
        from types import SimpleNamespace

        from prefect.exceptions import ObjectNotFound

        if name not in self.limits:
            raise ObjectNotFound(None)
        return SimpleNamespace(limit=self.limits[name][0], slot_decay_per_second=self.limits[name][1])

    def increment(self, name, slots):
        """The server's answer to one increment request: 503 (busy), 423 (denied), or the limits taken."""
        from types import SimpleNamespace

        self.calls.append((name, slots))
        status = 200
        if self.deny > 0:
            status = 503 if self.deny % 2 else 423
            self.deny -= 1
        return SimpleNamespace(status_code=status, raise_for_status=lambda: None,
                               json=lambda: [{"name": name}] if name in self.limits else [])


def test_the_key_pacer_takes_a_few_slots_per_call_and_drops_those_it_held_too_long(monkeypatch):
    server = _FakePrefect({"regs-key-kA": (10, 1000.0), "regs-key-kB": (1, 1000.0)}, deny=2)
    pacer = limits.KeyPacer(chunk=4, hold_s=0.2)
    monkeypatch.setattr(pacer, "_prefect", lambda: server)
    monkeypatch.setattr(pacer, "_increment", lambda client, name, slots: server.increment(name, slots))
    for _ in range(8):
        pacer("kA")
    # a busy server and a denial retried, then 8 requests from 2 grants of 4 slots (a burst of 10 allows 4)
    assert server.calls == [("regs-key-kA", 4)] * 4
    pacer("kA")
    assert len(server.calls) == 5
    time.sleep(0.25)  # the 3 slots left in hand are older than hold_s: dropped, not spent
    pacer("kA")
    assert len(server.calls) == 6
    pacer("kB")  # a burst of 1: one slot per request
    pacer("kB")
    assert server.calls[-2:] == [("regs-key-kB", 1)] * 2
    with pytest.raises(ConfigError, match="comments keys setup"):
        pacer("kC")  # no limit for this key: an error, never a request sent unpaced


def test_keys_setup_without_a_prefect_server_says_what_to_set(monkeypatch, capsys):
    from comments.cli import main

    monkeypatch.setenv("REGULATIONS_GOV_API_KEY", "k1,k2")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("COMMENTS_SHARED_LIMITS", "off")
    assert main(["keys", "setup"]) == 2
    err = capsys.readouterr().err
    assert "set PREFECT_API_URL" in err and err.count("\n") == 1 and "k1" not in err


@pytest.mark.prefect
def test_a_key_without_its_shared_limit_sends_nothing(replay, monkeypatch):
    """Prefect skips a missing limit unless told otherwise; here a missing one is an error, before the request."""
    from comments.client import RegulationsClient

    monkeypatch.setenv("COMMENTS_SHARED_LIMITS", "on")  # the test's own (ephemeral) Prefect API
    server = replay()
    client = RegulationsClient("test-key", base_url=server.base_url, rate_limit_per_hour=1e9,
                               pacer=limits.key_pacer(), max_retries=0)
    with pytest.raises(ConfigError, match="comments keys setup") as err:
        client.docket("CMS-2022-0163")
    assert "test-key" not in str(err.value)
    assert server.stats.total == 0
