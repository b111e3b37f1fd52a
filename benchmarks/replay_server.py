"""How fast the replay server answers, so client benchmarks measure the client, not the server.

    .venv/bin/python benchmarks/replay_server.py [N_COMMENTS]

Prints: synthetic snapshot build time; list paging (250 per page, Eastern
cursor past every 5,000) for the whole docket; detail requests per second
with one keep-alive client and with 4 client threads; server peak RSS.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import requests

from comments.replay import EASTERN, ReplayServer, Snapshot


def main(n: int) -> None:
    started = time.perf_counter()
    snap = Snapshot.synthetic(n)
    print(f"synthetic snapshot: {n:,} comments in {time.perf_counter() - started:.2f} s")
    with ReplayServer(snap) as server, requests.Session() as session:
        session.headers["X-Api-Key"] = "test-key"
        # list: page through everything the documented way (cursor converted to Eastern)
        started, seen, cursor, requests_made = time.perf_counter(), set(), None, 0
        while True:
            params = {"filter[docketId]": snap.docket_id, "sort": "lastModifiedDate,documentId", "page[size]": 250}
            if cursor:
                params["filter[lastModifiedDate][ge]"] = cursor
            before = len(seen)
            last = None
            for page in range(1, 21):
                body = session.get(f"{server.base_url}/comments", params={**params, "page[number]": page}).json()
                requests_made += 1
                seen.update(item["id"] for item in body["data"])
                if body["data"]:
                    last = body["data"][-1]["attributes"]["lastModifiedDate"]
                if not body["meta"]["hasNextPage"] or page == 20:
                    break
            if not body["meta"]["hasNextPage"] or len(seen) == before:
                break
            from datetime import datetime
            cursor = datetime.fromisoformat(last.replace("Z", "+00:00")).astimezone(EASTERN).strftime("%Y-%m-%d %H:%M:%S")
        took = time.perf_counter() - started
        print(f"list paging: {len(seen):,} ids in {requests_made} requests, {took:.2f} s "
              f"({requests_made / took:.0f} pages/s)")
        assert len(seen) == n, "paging lost comments"

        ids = snap.comment_ids()[:3000]
        started = time.perf_counter()
        for cid in ids:
            session.get(f"{server.base_url}/comments/{cid}", params={"include": "attachments"}).raise_for_status()
        took = time.perf_counter() - started
        print(f"detail, 1 client:  {len(ids) / took:,.0f} responses/s")

        def worker(chunk):
            with requests.Session() as s:
                s.headers["X-Api-Key"] = "test-key"
                for cid in chunk:
                    s.get(f"{server.base_url}/comments/{cid}", params={"include": "attachments"}).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(worker, [ids[i::4] for i in range(4)]))
        took = time.perf_counter() - started
        print(f"detail, 4 clients: {len(ids) / took:,.0f} responses/s (client and server share one process)")
        # the server alone: a minimal http.client loop in another process (no requests overhead here)
        light = (
            "import http.client,sys,time\n"
            f"c=http.client.HTTPConnection('127.0.0.1',{server.port})\n"
            f"ids={ids[:2000]!r}\n"
            "t=time.perf_counter()\n"
            "for i in ids:\n"
            "    c.request('GET','/v4/comments/'+i+'?include=attachments',headers={'X-Api-Key':'test-key'})\n"
            "    r=c.getresponse(); r.read(); assert r.status==200\n"
            "print(f'{len(ids)/(time.perf_counter()-t):,.0f}')\n"
        )
        rate = subprocess.run([sys.executable, "-c", light], capture_output=True, text=True, check=True).stdout.strip()
        print(f"detail, light client in another process: {rate} responses/s")
    print(f"peak RSS (server + client process): {psutil.Process().memory_info().rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
