"""RegulationsClient: encoding, retries, typed errors, pacing under the hourly budget.

Scripted responses come from a tiny loopback server (exact control over
status, headers and bodies); fault mixes come from comments.replay. Waits go
through a fake clock, so nothing here sleeps for real.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from comments import settings
from comments.client import (
    AuthError,
    BadRequest,
    InvalidResponse,
    NotFound,
    RateLimited,
    RegulationsClient,
    ServerError,
    TransportError,
)
from comments.errors import ConfigError
from comments.replay import Faults

SECRET = "sk-Client-Test-0123456789abcdef"


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Scripted:
    """Loopback server answering from a list of (status, headers, body) in order; records requests."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.requests.append({"path": self.path, "headers": dict(self.headers)})
                status, headers, body = owner.responses.pop(0) if owner.responses else (200, {}, {"data": []})
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v4"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers = []

    def make(*responses):
        server = Scripted(responses)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


def client_for(base_url, fake: FakeTime, keys=SECRET, rate=1_000_000, **kw) -> RegulationsClient:
    return RegulationsClient(keys, base_url, rate, sleep=fake.sleep, clock=fake.clock, backoff_base=0.01, **kw)


OK = (200, {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "900"}, {"data": {"id": "X"}})


def test_key_in_header_only_and_brackets_percent_encoded(scripted):
    server = scripted(OK)
    fake = FakeTime()
    client_for(server.base_url, fake).comment_list("CMS-2022-0163", page_number=3, last_modified_ge="2024-11-03 01:30:00")
    request = server.requests[0]
    assert request["headers"]["X-Api-Key"] == SECRET
    assert SECRET not in request["path"]
    assert "[" not in request["path"] and "]" not in request["path"]
    assert "filter%5BdocketId%5D=CMS-2022-0163" in request["path"]
    assert "filter%5BlastModifiedDate%5D%5Bge%5D=2024-11-03%2001%3A30%3A00" in request["path"]
    assert "page%5Bnumber%5D=3" in request["path"]
    assert request["headers"]["User-Agent"].startswith("comments/")


def test_5xx_and_truncated_json_are_retried_then_succeed(scripted):
    server = scripted((500, {}, {"errors": [{"status": "500", "title": "boom"}]}), (200, {}, b'{"data": {"id'), (503, {}, b"busy"), OK)
    fake = FakeTime()
    client = client_for(server.base_url, fake)
    assert client.comment("CMS-2022-0163-0002") == {"data": {"id": "X"}}
    assert len(server.requests) == 4
    assert client.stats.retries == 3
    assert len(fake.waits) == 3


def test_gives_up_after_max_retries_with_typed_error(scripted):
    body = {"errors": [{"status": "502", "title": "Bad Gateway"}]}
    server = scripted(*[(502, {}, body)] * 3)
    client = client_for(server.base_url, FakeTime(), max_retries=2)
    with pytest.raises(ServerError) as info:
        client.comment("CMS-2022-0163-0099")
    assert info.value.status == 502
    assert "Bad Gateway" in str(info.value)
    assert info.value.url.endswith("/comments/CMS-2022-0163-0099?include=attachments")
    assert len(server.requests) == 3


def test_known_permanent_500_is_retried_once_only(scripted):
    body = {"errors": [{"status": "500", "title": "Incorrect result size: expected 1, actual 2"}]}
    server = scripted(*[(500, {}, body)] * 5)
    with pytest.raises(ServerError, match="Incorrect result size"):
        client_for(server.base_url, FakeTime(), max_retries=6).comment("CMS-2022-0163-0099")
    assert len(server.requests) == 2


def test_truncated_body_that_never_heals_is_invalid_response(scripted):
    server = scripted(*[(200, {}, b'{"data": [')] * 3)
    with pytest.raises(InvalidResponse):
        client_for(server.base_url, FakeTime(), max_retries=2).docket("CMS-2022-0163")


def test_other_4xx_are_not_retried(scripted):
    server = scripted(
        (404, {}, {"errors": [{"status": "404", "title": "Not Found"}]}),
        (400, {}, {"errors": [{"status": "400", "title": "page[number] must be <= 20"}]}),
    )
    client = client_for(server.base_url, FakeTime())
    with pytest.raises(NotFound):
        client.docket("CMS-2099-0001")
    with pytest.raises(BadRequest, match="must be <= 20"):
        client.comment_list("CMS-2022-0163", page_number=21)
    assert len(server.requests) == 2


def test_invalid_key_is_auth_error_without_the_key(scripted):
    body = {"error": {"code": "API_KEY_INVALID", "message": f"An invalid api_key was supplied ({SECRET})"}}
    server = scripted((403, {}, body))
    with pytest.raises(AuthError) as info:
        client_for(server.base_url, FakeTime()).docket("CMS-2022-0163")
    assert len(server.requests) == 1
    text = f"{info.value} {info.value.url} {info.value.body_excerpt} {info.value!r}"
    assert "API_KEY_INVALID" in text
    assert SECRET not in text


def test_retry_after_is_honoured_on_429(scripted):
    limited = (429, {"Retry-After": "7"}, {"error": {"code": "OVER_RATE_LIMIT", "message": "slow down"}})
    server = scripted(limited, limited, OK)
    fake = FakeTime()
    client = client_for(server.base_url, fake)
    client.docket("CMS-2022-0163")
    assert fake.waits == [7.0, 7.0]
    assert len(server.requests) == 3


def test_endless_429_ends_as_rate_limited(scripted):
    limited = (429, {}, {"error": {"code": "OVER_RATE_LIMIT", "message": "slow down"}})
    server = scripted(*[limited] * 4)
    with pytest.raises(RateLimited):
        client_for(server.base_url, FakeTime(), max_rate_limit_waits=3).docket("CMS-2022-0163")


def test_connection_refused_is_transport_error():
    fake = FakeTime()
    client = RegulationsClient(SECRET, "http://127.0.0.1:9/v4", 1000, sleep=fake.sleep, clock=fake.clock, backoff_base=0.01, max_retries=1)
    with pytest.raises(TransportError) as info:
        client.docket("CMS-2022-0163")
    assert SECRET not in str(info.value)


def test_hourly_budget_is_kept_and_the_wait_is_explained(scripted):
    server = scripted(*[OK] * 5)
    fake = FakeTime()
    told = []
    client = client_for(server.base_url, fake, rate=3, on_wait=lambda s, why: told.append((s, why)))
    for _ in range(4):
        client.docket("CMS-2022-0163")
    # the 4th request waited for the first to leave the rolling hour
    assert sum(fake.waits) == pytest.approx(3600, abs=1)
    assert told and "out of hourly request budget" in told[0][1]
    assert SECRET not in told[0][1]


def test_several_keys_rotate_before_anyone_waits(scripted):
    server = scripted(*[OK] * 4)
    fake = FakeTime()
    client = client_for(server.base_url, fake, keys="key-aaaa,key-bbbb", rate=2)
    for _ in range(4):
        client.docket("CMS-2022-0163")
    assert fake.waits == []
    assert [r["headers"]["X-Api-Key"] for r in server.requests] == ["key-aaaa", "key-bbbb"] * 2
    assert [k["requests"] for k in client.key_budgets()] == [2, 2]
    assert "key-aaaa" not in repr(client.key_budgets())


def test_a_key_that_gets_a_429_rests_while_the_others_go_on(scripted):
    limited = (429, {"Retry-After": "60"}, {"error": {"code": "OVER_RATE_LIMIT", "message": "slow down"}})
    server = scripted(limited, OK, OK, OK)
    fake = FakeTime()
    client = client_for(server.base_url, fake, keys="key-aaaa,key-bbbb")
    for _ in range(3):
        client.docket("CMS-2022-0163")
    assert fake.waits == []  # nobody waited: key b carried on while key a rested
    assert [r["headers"]["X-Api-Key"] for r in server.requests] == ["key-aaaa", "key-bbbb", "key-bbbb", "key-bbbb"]


def test_threads_never_overspend_a_key(scripted):
    from concurrent.futures import ThreadPoolExecutor

    server = scripted(*[OK] * 40)
    fake = FakeTime()
    lock = threading.Lock()

    def sleep(seconds):  # threads share the fake clock
        with lock:
            fake.sleep(seconds)

    client = RegulationsClient("key-aaaa,key-bbbb", server.base_url, 10, sleep=sleep, clock=fake.clock, backoff_base=0.01)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.docket("CMS-2022-0163"), range(20)))
    # 2 keys x 10 per rolling hour: the 20 requests fit without waiting, each key used exactly 10 times
    assert [k["requests"] for k in client.key_budgets()] == [10, 10]
    assert fake.waits == []
    # the 21st waits for the first slot to leave the rolling hour; the shared pacer is asked only then,
    # with the key's public name, never the key
    pacer_calls = []
    client.pacer = pacer_calls.append
    client.docket("CMS-2022-0163")
    assert sum(fake.waits) == pytest.approx(3600, abs=1)
    assert len(pacer_calls) == 1 and pacer_calls[0].startswith("k") and "aaaa" not in pacer_calls[0]


def test_each_key_is_paced_by_the_limit_the_api_reports_for_it(scripted, monkeypatch):
    # A key with a raised limit: the API says 6 an hour where the default assumes 3.
    monkeypatch.setattr(settings, "DEFAULT_RATE_LIMIT", 3)
    monkeypatch.delenv("REGULATIONS_GOV_RATE_LIMIT", raising=False)
    raised = (200, {"X-RateLimit-Limit": "6", "X-RateLimit-Remaining": "900"}, {"data": {"id": "X"}})
    server = scripted(*[raised] * 7)
    fake = FakeTime()
    client = RegulationsClient(SECRET, server.base_url, sleep=fake.sleep, clock=fake.clock)
    for _ in range(6):
        client.docket("CMS-2022-0163")
    assert fake.waits == []  # all six of the key's budget used at once
    client.docket("CMS-2022-0163")
    assert sum(fake.waits) == pytest.approx(3600, abs=1)  # the 7th waits for the rolling hour

    # A cap the user sets (to leave room for other tools) holds even when the API allows more.
    monkeypatch.setenv("REGULATIONS_GOV_RATE_LIMIT", "4")
    server = scripted(*[raised] * 5)
    fake = FakeTime()
    client = RegulationsClient(SECRET, server.base_url, sleep=fake.sleep, clock=fake.clock)
    for _ in range(5):
        client.docket("CMS-2022-0163")
    assert sum(fake.waits) == pytest.approx(3600, abs=1)
    assert len(server.requests) == 5


def test_low_remaining_header_rests_the_key(scripted):
    low = (200, {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "3"}, {"data": {}})
    server = scripted(low, OK)
    fake = FakeTime()
    client = client_for(server.base_url, fake, rate=1000)
    client.docket("CMS-2022-0163")
    assert client.rate_remaining() == 3
    client.docket("CMS-2022-0163")
    # stopped a little before 0: rested for the slots it lacked (3.6 s each at 1000/h)
    assert sum(fake.waits) > 3.6 * 5


def test_no_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("REGULATIONS_GOV_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="REGULATIONS_GOV_API_KEY"):
        RegulationsClient()


def test_fault_mix_from_replay_server_is_absorbed(replay):
    server = replay(faults=Faults(server_error_rate=0.2, drop_rate=0.1, truncate_rate=0.1, rate_limit_rate=0.1, seed=3))
    fake = FakeTime()
    client = RegulationsClient("test-key", server.base_url, 1_000_000, sleep=fake.sleep, clock=fake.clock, backoff_base=0.001, max_retries=10)
    ids = [f"CMS-2022-0163-{n:04d}" for n in range(2, 42)]
    got = [client.comment(i)["data"]["id"] for i in ids]
    assert got == ids
    assert server.stats.errors_injected > 0
    assert client.stats.retries >= server.stats.errors_injected - 1
