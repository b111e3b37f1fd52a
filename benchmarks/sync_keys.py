"""Sync throughput with several keys and concurrent detail requests, at the real API's latency.

    ./run bench sync_keys                  # both cases below
    ./run bench sync_keys --comments 3000  # a bigger docket for the high-limit case

High limits: a replay server in its own process adds 100 ms to every response
(the real API takes a few hundred ms); a synthetic docket is synced with 1 and
3 keys, serially (concurrency 1, as before this benchmark's change) and with 8
and 16 requests in flight. Prints detail requests per second, requests per
comment and peak memory.

Low limits: 3 keys of 150 requests per rolling hour and a 400-comment docket
(served in this process, so the server's own count can be read): the sync
must complete at once on the three budgets, and the server must see no
request over any key's limit (it would refuse such a request with a 429).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCKET = "SYN-2024-0001"
KEYS = ("bench-key-1", "bench-key-2", "bench-key-3")


def start_server(n: int, latency: float) -> tuple[subprocess.Popen, str]:
    import socket

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "comments.replay", "--synthetic", str(n), "--port", str(port),
            "--latency", str(latency)]
    for key in KEYS:
        args += ["--key", key]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v4"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/dockets/{DOCKET}", headers={"X-Api-Key": KEYS[0]}, timeout=5)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the replay server did not start")


def high_limits(n: int, latency: float) -> list[dict]:
    from comments import store
    from comments.client import RegulationsClient
    from comments.sync import sync_docket

    rows = []
    server, base = start_server(n, latency)
    try:
        for n_keys in (1, 3):
            for concurrency in (1, 8, 16):
                with tempfile.TemporaryDirectory() as tmp:
                    con = store.connect(Path(tmp) / "bench.duckdb")
                    client = RegulationsClient(",".join(KEYS[:n_keys]), base, 1e9)
                    t0 = time.perf_counter()
                    result = sync_docket(con, client, DOCKET, concurrency=concurrency)
                    seconds = time.perf_counter() - t0
                    con.close()
                rows.append({
                    "keys": n_keys, "concurrency": concurrency, "status": result.status,
                    "details": result.detail_requests, "seconds": seconds,
                    "details_per_s": result.detail_requests / seconds,
                    "req_per_comment": result.requests / max(result.new, 1),
                    "per_key": [b["requests"] for b in client.key_budgets()],
                })
                print(f"... {n_keys} key(s), concurrency {concurrency}: {rows[-1]['details_per_s']:.1f} details/s",
                      file=sys.stderr, flush=True)
    finally:
        server.kill()
        server.wait()
    return rows


def low_limits() -> dict:
    from comments import store
    from comments.client import RegulationsClient
    from comments.replay import ReplayServer, Snapshot
    from comments.sync import sync_docket

    snap = Snapshot.synthetic(400, docket_id=DOCKET, seed=7)
    with ReplayServer(snap, api_keys=KEYS, rate_limit_per_hour=150) as server, tempfile.TemporaryDirectory() as tmp:
        con = store.connect(Path(tmp) / "bench.duckdb")
        client = RegulationsClient(",".join(KEYS), server.base_url, 150)
        t0 = time.perf_counter()
        result = sync_docket(con, client, DOCKET, concurrency=8)
        seconds = time.perf_counter() - t0
        stored = con.execute("select count(*), count(distinct comment_id) from comments").fetchone()
        con.close()
        return {"status": result.status, "seconds": seconds, "stored": stored, "requests": result.requests,
                "per_key": server.stats.per_key(), "over_limit": server.stats["over_limit"],
                "waited_s": client.stats.waited_s}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=1500, help="docket size for the high-limit case")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the server adds per response")
    args = parser.parse_args(argv)

    rows = high_limits(args.comments, args.latency)
    print(f"high limits: {args.comments:,} comments, {args.latency * 1000:.0f} ms added per response")
    print(f"{'keys':>4} {'in flight':>9} {'status':>9} {'details':>8} {'seconds':>8} {'details/s':>10} {'req/comment':>12}  per key")
    for r in rows:
        print(f"{r['keys']:>4} {r['concurrency']:>9} {r['status']:>9} {r['details']:>8,} {r['seconds']:>8.1f} "
              f"{r['details_per_s']:>10.1f} {r['req_per_comment']:>12.4f}  {r['per_key']}")
    low = low_limits()
    print("\nlow limits: 3 keys x 150 requests per rolling hour, 400 comments, 8 in flight")
    print(f"  status {low['status']}, {low['stored'][0]:,} stored ({low['stored'][1]:,} distinct) in {low['seconds']:.1f} s, "
          f"{low['requests']:,} requests, per key {sorted(low['per_key'].values())}, "
          f"requests over a key's limit seen by the server: {low['over_limit']}, waited {low['waited_s']:.0f} s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
