"""The regulations.gov-compatible replay server, tested over real HTTP on loopback."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from comments.errors import InputError
from comments.replay import EASTERN, Faults, ReplayServer, Snapshot
from comments.resources import DEMO_DOCKET, bundled_mirrulations

KEY = {"X-Api-Key": "test-key"}
LIST_ATTRIBUTES = {"agencyId", "documentType", "highlightedContent", "lastModifiedDate", "objectId",
                   "postedDate", "title", "withdrawn"}
META_KEYS = {"totalElements", "totalPages", "pageNumber", "pageSize", "numberOfElements", "hasNextPage",
             "hasPreviousPage", "firstPage", "lastPage"}


def get(server, path, params=None, headers=KEY, **kw):
    return requests.get(f"{server.base_url}{path}", params=params, headers=headers, timeout=10, **kw)


def all_pages(server, params, size=250):
    """Every item of a comment query, following pages up to the API's 20-page limit."""
    items = []
    for page in range(1, 21):
        body = get(server, "/comments", {**params, "page[size]": size, "page[number]": page}).json()
        items += body["data"]
        if not body["meta"]["hasNextPage"]:
            break
    return items


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def synthetic_server():
    """A read-only 6,000-comment synthetic docket (more than one query can reach)."""
    with ReplayServer(Snapshot.synthetic(6000, docket_id="SYN-2024-0001", seed=3)) as server:
        yield server


# ------------------------------------------------------------------ shapes
def test_comment_list_items_carry_no_text_and_meta_is_complete(replay):
    server = replay()
    body = get(server, "/comments", {"filter[docketId]": DEMO_DOCKET, "page[size]": 250}).json()
    assert len(body["data"]) == 250
    assert set(body["meta"]) == META_KEYS
    assert body["meta"]["totalElements"] == 647 and body["meta"]["totalPages"] == 3
    for item in body["data"]:
        assert item["type"] == "comments"
        assert set(item["attributes"]) == LIST_ATTRIBUTES  # no "comment": text costs a detail request
        assert item["links"]["self"] == f"{server.base_url}/comments/{item['id']}"
        assert item["attributes"]["lastModifiedDate"].endswith("Z")


def test_detail_has_text_and_attachments_only_when_included(replay, bundled_snapshot):
    server = replay(bundled_snapshot)
    bare = get(server, "/comments/CMS-2022-0163-0004").json()
    full = get(server, "/comments/CMS-2022-0163-0004", {"include": "attachments"}).json()
    assert "included" not in bare
    assert "Dear CMS" in full["data"]["attributes"]["comment"]
    assert [a["attributes"]["docOrder"] for a in full["included"]] == [1, 2]
    assert full["data"] == bundled_snapshot.comment_detail("CMS-2022-0163-0004")["data"]
    # a comment without attachments has no included records even when asked
    assert "included" not in get(server, "/comments/CMS-2022-0163-0002", {"include": "attachments"}).json()


def test_unknown_ids_are_404_with_errors_body(replay):
    server = replay()
    for path in ("/comments/CMS-2022-0163-9999", "/documents/NOPE-0001", "/dockets/NOPE-2020-0001", "/nothing"):
        response = get(server, path)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["status"] == "404"


def test_docket_document_and_search_routes(replay):
    server = replay()
    docket = get(server, f"/dockets/{DEMO_DOCKET}").json()["data"]
    assert docket["attributes"]["rin"] == "0938-ZB72"
    documents = get(server, "/documents", {"filter[docketId]": DEMO_DOCKET}).json()
    assert [d["id"] for d in documents["data"]] == ["CMS-2022-0163-0001"]
    object_id = documents["data"][0]["attributes"]["objectId"]
    assert get(server, "/documents", {"filter[docketId]": "CMS-2099-0001"}).json()["meta"]["totalElements"] == 0
    assert get(server, "/documents", {"filter[withinCommentPeriod]": "true"}).json()["data"] == []
    ended = get(server, "/documents", {"filter[commentEndDate][ge]": "2022-12-06", "filter[commentEndDate][le]": "2022-12-06"})
    assert ended.json()["meta"]["totalElements"] == 1
    on_doc = get(server, "/comments", {"filter[commentOnId]": object_id, "page[size]": 5}).json()
    assert on_doc["meta"]["totalElements"] == 647
    found = get(server, "/dockets", {"filter[searchTerm]": "healthcare providers", "filter[agencyId]": "CMS"}).json()
    assert [d["id"] for d in found["data"]] == [DEMO_DOCKET]
    assert get(server, "/dockets", {"filter[searchTerm]": "immigration"}).json()["data"] == []


def test_search_and_posted_date_filters_match_the_records(replay, bundled_snapshot):
    server = replay(bundled_snapshot)
    details = [bundled_snapshot.comment_detail(i)["data"]["attributes"] for i in bundled_snapshot.comment_ids()]
    want = sum("ghost network" in (a["comment"] or "").lower() for a in details)
    got = get(server, "/comments", {"filter[searchTerm]": '"ghost network"', "page[size]": 250}).json()
    assert 0 < want == got["meta"]["totalElements"]
    day = "2022-10-24"
    want_day = sum(a["postedDate"] == "2022-10-24T04:00:00Z" for a in details)  # midnight Eastern
    got_day = get(server, "/comments", {"filter[postedDate][ge]": day, "filter[postedDate][le]": day, "page[size]": 5})
    assert 0 < want_day == got_day.json()["meta"]["totalElements"]


def test_percent_encoded_and_raw_brackets_are_the_same_query(replay):
    server = replay()
    raw = requests.get(f"{server.base_url}/comments?filter[docketId]={DEMO_DOCKET}&page[size]=7", headers=KEY, timeout=10)
    encoded = requests.get(f"{server.base_url}/comments?filter%5BdocketId%5D={DEMO_DOCKET}&page%5Bsize%5D=7",
                           headers=KEY, timeout=10)
    assert raw.status_code == encoded.status_code == 200
    assert raw.json() == encoded.json() and len(raw.json()["data"]) == 7


def test_unsupported_filter_and_bad_dates_are_400(replay):
    server = replay()
    for params in ({"filter[docketID]": DEMO_DOCKET}, {"filter[lastModifiedDate][ge]": "2022-10-24T10:00:00Z"},
                   {"filter[postedDate][ge]": "10/24/2022"}, {"sort": "title"}):
        response = get(server, "/comments", params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["status"] == "400"


# ------------------------------------------------------------------ paging
@pytest.mark.parametrize("params", [
    {"page[size]": 4}, {"page[size]": 251}, {"page[number]": 0}, {"page[number]": 21}, {"page[size]": "ten"},
])
def test_page_parameters_outside_the_limits_are_400(replay, params):
    response = get(replay(), "/comments", {"filter[docketId]": DEMO_DOCKET, **params})
    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == "400"


def test_page_limits_inclusive_and_default_size(replay):
    server = replay()
    assert len(get(server, "/comments", {"filter[docketId]": DEMO_DOCKET}).json()["data"]) == 25
    assert len(get(server, "/comments", {"filter[docketId]": DEMO_DOCKET, "page[size]": 5}).json()["data"]) == 5
    last = get(server, "/comments", {"filter[docketId]": DEMO_DOCKET, "page[size]": 5, "page[number]": 20}).json()
    assert last["meta"]["pageNumber"] == 20 and len(last["data"]) == 5


def test_one_query_reaches_at_most_5000_of_a_larger_docket(synthetic_server):
    params = {"filter[docketId]": "SYN-2024-0001", "sort": "lastModifiedDate,documentId"}
    items = all_pages(synthetic_server, params)
    assert len(items) == len({i["id"] for i in items}) == 5000
    page20 = get(synthetic_server, "/comments", {**params, "page[size]": 250, "page[number]": 20}).json()
    assert page20["meta"]["totalElements"] == 6000  # the true total, though only 5,000 are reachable
    # like the real API, page 20 calls itself the end of the query (the flags describe the query's
    # reach, not the docket): a client must decide "more?" from counts, never from these flags
    assert page20["meta"]["hasNextPage"] is False and page20["meta"]["lastPage"] is True
    assert page20["meta"]["totalPages"] == 20 and page20["meta"]["numberOfElements"] == 250
    assert get(synthetic_server, "/comments", {**params, "page[size]": 250, "page[number]": 21}).status_code == 400


# ------------------------------------------------------------------ Eastern-time cursor
def test_eastern_cursor_returns_exactly_the_comments_at_or_after_it_across_dst(synthetic_server):
    """The documented way past 5,000: a UTC cursor converted to US Eastern (with DST) misses nothing."""
    snap = synthetic_server.snapshot
    stamps = sorted((snap.last_modified(i), i) for i in snap.comment_ids())
    first, last = stamps[0][0], stamps[-1][0]
    dst_end = datetime(2024, 11, 3, 6, 0, tzinfo=UTC)  # 2:00 EDT -> 1:00 EST
    assert first < dst_end < last, "the synthetic docket must span the end of DST"
    # one cursor in EDT and one in EST, each leaving fewer than 5,000 comments after it
    cursors = [stamps[len(stamps) - 4500][0], stamps[len(stamps) - 1200][0]]
    assert {c.astimezone(EASTERN).tzname() for c in cursors} == {"EDT", "EST"}
    for cursor in cursors:
        eastern = cursor.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M:%S")
        got = all_pages(synthetic_server, {"filter[docketId]": "SYN-2024-0001",
                                           "filter[lastModifiedDate][ge]": eastern,
                                           "sort": "lastModifiedDate,documentId"})
        want = {i for t, i in stamps if t >= cursor}
        assert [i["id"] for i in got] == sorted(want, key=lambda i: (snap.last_modified(i), i))
        assert all(utc(i["attributes"]["lastModifiedDate"]) >= cursor for i in got)
        # the classic bug: sending the UTC wall time as if it were Eastern skips 4-5 hours of comments
        naive = cursor.strftime("%Y-%m-%d %H:%M:%S")
        wrong = get(synthetic_server, "/comments", {"filter[docketId]": "SYN-2024-0001",
                                                    "filter[lastModifiedDate][ge]": naive, "page[size]": 5})
        assert wrong.json()["meta"]["totalElements"] < len(want)


def test_last_modified_le_is_inclusive_eastern(synthetic_server):
    snap = synthetic_server.snapshot
    stamps = sorted((snap.last_modified(i), i) for i in snap.comment_ids())
    cursor = stamps[300][0]
    eastern = cursor.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M:%S")
    got = all_pages(synthetic_server, {"filter[docketId]": "SYN-2024-0001", "filter[lastModifiedDate][le]": eastern})
    assert {i["id"] for i in got} == {i for t, i in stamps if t <= cursor}


def test_synthetic_dates_repeat_within_a_second(synthetic_server):
    snap = synthetic_server.snapshot
    stamps = [snap.last_modified(i) for i in snap.comment_ids()]
    assert len(set(stamps)) < len(stamps) / 3  # lastModifiedDate is not unique, as in real data
    assert max(stamps) - min(stamps) > timedelta(days=14)


# ------------------------------------------------------------------ sort
def test_sort_orders_with_id_as_tie_breaker(synthetic_server):
    base = {"filter[docketId]": "SYN-2024-0001", "page[size]": 250}

    def keys(sort, field):
        data = get(synthetic_server, "/comments", {**base, "sort": sort}).json()["data"]
        return [(i["attributes"][field], i["id"]) for i in data]

    ascending = keys("lastModifiedDate,documentId", "lastModifiedDate")
    assert ascending == sorted(ascending)
    descending = keys("-lastModifiedDate", "lastModifiedDate")
    assert [k[0] for k in descending] == sorted((k[0] for k in descending), reverse=True)
    assert descending[0][0] > ascending[-1][0]
    posted = keys("-postedDate,documentId", "postedDate")
    assert posted == sorted(posted, key=lambda k: (-utc(k[0]).timestamp(), k[1]))
    by_id = keys("documentId", "title")
    assert [k[1] for k in by_id] == sorted(k[1] for k in by_id)


# ------------------------------------------------------------------ keys and rate limits
def test_api_key_missing_or_invalid_is_403(replay):
    server = replay()
    missing = get(server, "/comments", headers={})
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "API_KEY_MISSING"
    invalid = get(server, "/comments", headers={"X-Api-Key": "wrong"})
    assert invalid.status_code == 403 and invalid.json()["error"]["code"] == "API_KEY_INVALID"
    assert get(server, "/comments", {"api_key": "test-key"}, headers={}).status_code == 200
    anyone = replay(api_keys=None)
    assert get(anyone, "/comments", headers={"X-Api-Key": "whatever"}).status_code == 200
    assert get(anyone, "/comments", headers={}).status_code == 403


def test_rate_limit_headers_count_down_per_key_then_429(replay):
    server = replay(api_keys=("k1", "k2"), rate_limit_per_hour=3)
    remaining = []
    for _ in range(3):
        response = get(server, "/comments", headers={"X-Api-Key": "k1"})
        assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    over = get(server, "/comments", headers={"X-Api-Key": "k1"})
    assert over.status_code == 429 and over.json()["error"]["code"] == "OVER_RATE_LIMIT"
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert get(server, "/comments", headers={"X-Api-Key": "k2"}).headers["X-RateLimit-Remaining"] == "2"
    assert server.stats.per_key() == {"k1": 3, "k2": 1}  # the refused request is not counted
    server.reset_rate_limits()
    assert get(server, "/comments", headers={"X-Api-Key": "k1"}).status_code == 200


def test_remaining_header_can_lag_the_true_count(replay):
    server = replay(rate_limit_per_hour=4, faults=Faults(remaining_lag=2))
    remaining = [get(server, "/comments").headers["X-RateLimit-Remaining"] for _ in range(4)]
    assert remaining == ["4", "4", "3", "2"]  # true count 3, 2, 1, 0: the last says 2 left when none are
    assert get(server, "/comments").status_code == 429


# ------------------------------------------------------------------ faults
def test_server_errors_and_random_429s(replay):
    server = replay(faults=Faults(server_error_rate=1.0, retry_after=2))
    statuses = {get(server, "/comments").status_code for _ in range(30)}
    assert statuses == {500, 502, 503}
    assert server.stats.errors_injected == 30
    server.set_faults(Faults(rate_limit_rate=1.0))
    response = get(server, "/comments/CMS-2022-0163-0002")
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_rate_limit_storm_counts_down_with_retry_after(replay):
    server = replay(faults=Faults(rate_limit_storm=3, retry_after=0.05))
    responses = [get(server, "/comments") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == "0.05"
    assert responses[0].json()["error"]["code"] == "OVER_RATE_LIMIT"


def test_dropped_connections_and_truncated_json(replay):
    server = replay(faults=Faults(drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        get(server, "/comments/CMS-2022-0163-0002")
    server.set_faults(Faults(truncate_rate=1.0))
    response = get(server, "/comments/CMS-2022-0163-0002")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.text)
    server.set_faults(None)
    assert get(server, "/comments/CMS-2022-0163-0002").json()["data"]["id"] == "CMS-2022-0163-0002"


def test_failing_ids_always_500_and_others_unaffected(replay):
    server = replay(faults=Faults(failing_ids=frozenset({"CMS-2022-0163-0003"})))
    for _ in range(3):
        response = get(server, "/comments/CMS-2022-0163-0003")
        assert response.status_code == 500
        assert "Incorrect result size: expected 1, actual 2" in response.json()["errors"][0]["detail"]
    assert get(server, "/comments/CMS-2022-0163-0004").status_code == 200
    listed = {i["id"] for i in all_pages(server, {"filter[docketId]": DEMO_DOCKET})}
    assert "CMS-2022-0163-0003" in listed  # still listed, as the real API does


def test_faults_are_deterministic_given_the_seed(replay):
    def run():
        server = replay(faults=Faults(server_error_rate=0.3, rate_limit_rate=0.2, seed=7))
        return [get(server, "/comments").status_code for _ in range(25)]

    first, second = run(), run()
    assert first == second and len(set(first)) > 1


def test_latency_is_added_per_request(replay):
    server = replay(faults=Faults(latency=0.2))
    started = time.monotonic()
    get(server, "/dockets/CMS-2022-0163")
    assert time.monotonic() - started >= 0.2


def test_change_while_paging_moves_comments_to_the_end(replay, bundled_snapshot):
    server = replay(bundled_snapshot, faults=Faults(change_while_paging=4, seed=1))
    before = {i: bundled_snapshot.last_modified(i) for i in bundled_snapshot.comment_ids()}
    params = {"filter[docketId]": DEMO_DOCKET, "sort": "lastModifiedDate,documentId", "page[size]": 250}
    first = get(server, "/comments", params).json()["data"]
    touched = [i for i in before if bundled_snapshot.last_modified(i) != before[i]]
    assert len(touched) == 4
    assert all(bundled_snapshot.last_modified(i) > max(before.values()) for i in touched)
    server.set_faults(None)
    page3 = get(server, "/comments", {**params, "page[number]": 3}).json()["data"]
    assert {i["id"] for i in page3[-4:]} == set(touched)
    assert len(first) == 250


# ------------------------------------------------------------------ files
def test_attachment_urls_point_at_served_files(replay, bundled_snapshot):
    bundled_snapshot.add_file("CMS-2022-0163-0004/attachment_1.pdf", b"%PDF-1.4 test")
    server = replay(bundled_snapshot)
    included = get(server, "/comments/CMS-2022-0163-0004", {"include": "attachments"}).json()["included"]
    urls = [a["attributes"]["fileFormats"][0]["fileUrl"] for a in included]
    assert urls == [f"{server.files_url}/CMS-2022-0163-0004/attachment_1.pdf",
                    "https://downloads.regulations.gov/CMS-2022-0163-0004/attachment_2.pdf"]
    download = requests.get(urls[0], timeout=10)  # no key needed, like downloads.regulations.gov
    assert download.content == b"%PDF-1.4 test" and download.headers["Content-Type"] == "application/pdf"
    assert requests.get(f"{server.files_url}/CMS-2022-0163-0004/attachment_2.pdf", timeout=10).status_code == 404
    assert server.stats["file"] == 2
    # the stored record is untouched
    stored = bundled_snapshot.comment_detail("CMS-2022-0163-0004")["included"][0]["attributes"]["fileFormats"][0]
    assert stored["fileUrl"].startswith("https://downloads.regulations.gov/")


def test_mirrulations_binary_folder_is_served(tmp_path, replay):
    docket_dir = tmp_path / "raw-data" / "CMS" / DEMO_DOCKET
    shutil.copytree(bundled_mirrulations() / "raw-data" / "CMS" / DEMO_DOCKET, docket_dir)
    binary = docket_dir / f"binary-{DEMO_DOCKET}" / "comments_attachments"
    binary.mkdir(parents=True)
    (binary / "CMS-2022-0163-0004_attachment_2.pdf").write_bytes(b"%PDF-second")
    server = replay(Snapshot.from_mirrulations(tmp_path))
    included = get(server, "/comments/CMS-2022-0163-0004", {"include": "attachments"}).json()["included"]
    url = included[1]["attributes"]["fileFormats"][0]["fileUrl"]
    assert url == f"{server.files_url}/CMS-2022-0163-0004/attachment_2.pdf"
    assert requests.get(url, timeout=10).content == b"%PDF-second"


def test_missing_mirrulations_folder_is_a_user_error(tmp_path):
    with pytest.raises(InputError, match="no Mirrulations data"):
        Snapshot.from_mirrulations(tmp_path)
    with pytest.raises(InputError, match="CMS-2099-0001"):
        Snapshot.from_mirrulations(bundled_mirrulations(), "CMS-2099-0001")


# ------------------------------------------------------------------ changes while serving
def test_touch_and_add_while_serving(replay, bundled_snapshot):
    server = replay(bundled_snapshot)
    cid = "CMS-2022-0163-0010"
    when = datetime(2023, 3, 12, 7, 30, tzinfo=UTC)  # just after DST began (03:30 EDT)
    bundled_snapshot.touch_comment(cid, when, comment="Edited by the agency")
    detail = get(server, f"/comments/{cid}").json()["data"]["attributes"]
    assert detail["comment"] == "Edited by the agency" and detail["modifyDate"] == "2023-03-12T07:30:00Z"
    since = get(server, "/comments", {"filter[docketId]": DEMO_DOCKET,
                                      "filter[lastModifiedDate][ge]": "2023-03-12 03:30:00"}).json()
    assert [i["id"] for i in since["data"]] == [cid]
    assert since["data"][0]["attributes"]["lastModifiedDate"] == "2023-03-12T07:30:00Z"

    new = bundled_snapshot.comment_detail("CMS-2022-0163-0002")
    new["data"]["id"] = "CMS-2022-0163-0900"
    new["data"]["attributes"]["comment"] = "A late comment"
    bundled_snapshot.add_comment(new)
    new["data"]["attributes"]["comment"] = "changed by the caller afterwards"  # the snapshot kept its own copy
    assert len(bundled_snapshot) == 648
    assert get(server, "/comments/CMS-2022-0163-0900").json()["data"]["attributes"]["comment"] == "A late comment"
    newest = get(server, "/comments", {"filter[docketId]": DEMO_DOCKET, "sort": "-lastModifiedDate"}).json()
    assert newest["data"][0]["id"] == "CMS-2022-0163-0900"
    assert newest["meta"]["totalElements"] == 648


def test_stats_count_each_route_kind_and_reset(replay):
    server = replay()
    get(server, f"/dockets/{DEMO_DOCKET}")
    get(server, "/dockets")
    get(server, "/documents", {"filter[docketId]": DEMO_DOCKET})
    get(server, "/documents/CMS-2022-0163-0001")
    get(server, "/comments")
    get(server, "/comments/CMS-2022-0163-0002")
    get(server, "/comments/CMS-2022-0163-0003")
    stats = server.stats
    assert (stats.total, stats["docket"], stats["dockets_search"], stats["documents"], stats["document"],
            stats["comments_list"], stats["comment_detail"]) == (7, 1, 1, 1, 1, 1, 2)
    stats.reset()
    assert stats.total == 0 and stats.as_dict() == {}


def test_many_concurrent_clients_get_consistent_answers(replay):
    from concurrent.futures import ThreadPoolExecutor

    server = replay()

    def fetch(n):
        with requests.Session() as s:
            s.headers.update(KEY)
            return [s.get(f"{server.base_url}/comments/CMS-2022-0163-{n + k:04d}", timeout=10).json()["data"]["id"]
                    for k in range(20)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(2, 402, 50)))
    assert [r[0] for r in results] == [f"CMS-2022-0163-{n:04d}" for n in range(2, 402, 50)]
    assert server.stats["comment_detail"] == 160


def test_repeated_hour_when_dst_ends_errs_towards_more(replay, bundled_snapshot):
    """01:30 on 2024-11-03 happens twice in Eastern time; a `ge` cursor there must not drop comments."""
    edt, est = datetime(2024, 11, 3, 5, 30, tzinfo=UTC), datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
    bundled_snapshot.touch_comment("CMS-2022-0163-0002", edt)
    bundled_snapshot.touch_comment("CMS-2022-0163-0003", est)
    server = replay(bundled_snapshot)
    assert edt.astimezone(EASTERN).strftime("%H:%M") == est.astimezone(EASTERN).strftime("%H:%M") == "01:30"
    got = get(server, "/comments", {"filter[lastModifiedDate][ge]": "2024-11-03 01:30:00"}).json()["data"]
    assert {i["id"] for i in got} == {"CMS-2022-0163-0002", "CMS-2022-0163-0003"}


def _ctrl_c_as_in_a_terminal() -> None:
    """The child gets Ctrl-C's default action, as a server started from a terminal does. A test run
    started in the background by a shell without job control (`./run test &` in a script) ignores
    SIGINT, and its children inherit that."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ctrl_c(proc) -> int:
    """Ctrl-C to a running server; its exit code, or an error with what it printed if it is still
    serving 10 s later."""
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"still serving 10 s after Ctrl-C; stderr: {proc.communicate()[1][-2000:]!r}") from None


def test_ctrl_c_that_lands_on_a_server_thread_still_stops_the_command_line_server():
    """The kernel may give a process's SIGINT to any thread that does not block it; Python raises it
    in the main thread only when that thread next runs bytecode (the server's main thread used to
    sleep an hour at a time). Blocking SIGINT in the main thread once the server runs puts it on a
    server thread every time."""
    import subprocess
    import sys

    child = (
        "import signal, sys\n"
        "from comments.replay import __main__ as m\n"
        "start = m.ReplayServer.start\n"
        "def started(self):\n"
        "    out = start(self)\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
        "    return out\n"
        "m.ReplayServer.start = started\n"
        "sys.exit(m.main(['--synthetic', '5', '--port', '0', '--key', 'k']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        assert proc.stdout.readline().startswith("serving 5 comments")
    finally:
        code = _ctrl_c(proc)
    assert code == 0


def test_command_line_serves_until_interrupted(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "comments.replay", "--synthetic", "50", "--port", "0",
                             "--key", "k"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        first = proc.stdout.readline()
        assert first.startswith("serving 50 comments of SYN-2024-0001 at http://127.0.0.1:")
        base = first.split(" at ")[1].split()[0]
        response = requests.get(f"{base}/comments", headers={"X-Api-Key": "k"}, timeout=10)
        assert response.json()["meta"]["totalElements"] == 50
    finally:
        code = _ctrl_c(proc)
    assert code == 0
    assert proc.stderr.read() == ""  # nothing logged per request
    bad = subprocess.run([sys.executable, "-m", "comments.replay", "--mirrulations", str(tmp_path)],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no Mirrulations data")


def test_stopped_server_refuses_and_restarts_on_the_same_port(replay):
    server = replay()
    url = server.base_url
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/comments", headers=KEY, timeout=5)
    server.start()
    assert server.base_url == url
    assert get(server, "/comments").status_code == 200
