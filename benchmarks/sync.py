"""Sync throughput against the local regulations.gov stand-in (no added latency).

    .venv/bin/python benchmarks/sync.py            # 5,000 and 50,000 comments
    .venv/bin/python benchmarks/sync.py 2000       # other sizes

For each size: a replay server in its own process (so it does not share this
process's CPU time or GIL), a first sync into a fresh DuckDB file, then a
re-sync of the unchanged docket. Each size runs in a fresh child process so
its peak memory is its own. Prints a table: comments stored per second,
requests per new comment (target <= 1.01 before attachments), requests for
the re-sync, peak resident memory.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCKET = "SYN-2024-0001"
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(n: int) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "comments.replay", "--synthetic", str(n), "--port", str(port), "--key", KEY],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v4"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/dockets/{DOCKET}", headers={"X-Api-Key": KEY}, timeout=2)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the replay server did not start")


def one(n: int) -> dict:
    """Run in a child process: first sync and re-sync of an n-comment docket."""
    from comments import store
    from comments.client import RegulationsClient
    from comments.sync import sync_docket

    server, base = start_server(n)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            con = store.connect(Path(tmp) / "bench.duckdb")
            client = RegulationsClient(KEY, base, 1e9)
            t0 = time.perf_counter()
            first = sync_docket(con, client, DOCKET)
            first_s = time.perf_counter() - t0
            stored = con.execute("select count(*), count(distinct comment_id) from comments").fetchone()
            t1 = time.perf_counter()
            again = sync_docket(con, client, DOCKET)
            again_s = time.perf_counter() - t1
            con.close()
            # `comments status DOCKET` as a user runs it: a fresh process, the database read-only
            t2 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "comments.cli", "status", DOCKET, "--db", str(Path(tmp) / "bench.duckdb")],
                           check=True, capture_output=True)
            status_s = time.perf_counter() - t2
            db_mb = (Path(tmp) / "bench.duckdb").stat().st_size / 1e6
    finally:
        server.kill()
        server.wait()
    return {
        "comments": n,
        "status": first.status,
        "stored": stored[0],
        "distinct": stored[1],
        "first_s": first_s,
        "per_s": first.new / first_s,
        "requests": first.requests,
        "req_per_new": first.requests / max(first.new, 1),
        "resync_requests": again.requests,
        "resync_details": again.detail_requests,
        "resync_s": again_s,
        "status_s": status_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "db_mb": db_mb,
    }


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if argv[:1] == ["--one"]:
        print(json.dumps(one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or [5_000, 50_000]
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"... {n:,} comments done", file=sys.stderr, flush=True)
    header = (
        f"{'comments':>9} {'status':>9} {'stored':>7} {'sync s':>7} {'stored/s':>9} {'requests':>9} "
        f"{'req/new':>8} {'re-sync req':>11} {'re-sync det':>11} {'re-sync s':>9} {'peak MB':>8} {'db MB':>6}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['comments']:>9,} {r['status']:>9} {r['stored']:>7,} {r['first_s']:>7.1f} {r['per_s']:>9.0f} "
            f"{r['requests']:>9,} {r['req_per_new']:>8.4f} {r['resync_requests']:>11,} {r['resync_details']:>11,} "
            f"{r['resync_s']:>9.2f} {r['status_s']:>8.2f} {r['peak_mb']:>8.0f} {r['db_mb']:>6.1f}"
        )
        if r["stored"] != r["comments"] or r["distinct"] != r["comments"]:
            print(f"  !! {r['comments']:,}: stored {r['stored']:,} ({r['distinct']:,} distinct)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
