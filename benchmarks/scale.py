"""Scale out: the shared database, dockets per hour and extraction pages per second with 1-3 workers.

    ./run bench scale                      # all three parts (about 15 minutes on 2 cores)
    ./run bench scale storage              # 3 writer processes and a reader on one DuckDB file
    ./run bench scale dockets --comments 600
    ./run bench scale extraction --pdfs 200 --pages 20

storage: three processes sync three dockets (a replay server per process, no
Prefect) into one database through `store.shared`, while this process reads
through `store.reading` in a loop: once with no latency (the worst case:
writers save a page every 1-2 s), once with `--latency` per request. Prints the writers' comments
per second, how long each held the file, and how long the reader waited to
get in (p50, p95, max).

dockets: a Prefect server, the project's deployments and 1, 2 or 3 process
workers that run one flow run at a time each (`--limit 1`: a worker is a
slot); the planner runs in this process and fans out 3 dockets (sync,
attachments, analysis, briefing per docket) over them. The replay server adds
`--latency` seconds per request (the real API takes a few hundred ms) and the
key limits are set high, so the figure is what workers deliver; with real keys
the sync is bound by 1,000 requests per key per hour (see BENCHMARKS.md).

extraction: generated text-layer PDFs, already downloaded into a fresh file
store (downloads are paced at 4 files/s for the host's sake and would set the
pace), extracted by the `fetch-attachments` flow on a Dask LocalCluster of 1,
2 and 3 workers (one thread each, one extraction process per task). Prints
pages per second over the whole flow run, cluster start included.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "benchmarks")]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --------------------------------------------------------------------------- storage


def storage(comments: int, latency: float = 0.0) -> None:
    from comments import store

    tmp = Path(tempfile.mkdtemp(prefix="scale-storage-"))
    db = tmp / "shared.duckdb"
    store.connect(db).close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "COMMENTS_SHARED_LIMITS": "off"}
    writers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from comments import store
        from comments.client import RegulationsClient
        from comments.replay import Faults, ReplayServer, Snapshot
        from comments.sync import sync_docket
        snap = Snapshot.synthetic({comments}, docket_id="SYN-2024-000{i}", seed={i})
        with ReplayServer(snap, api_keys=("k",), faults=Faults(latency={latency})) as server:
            client = RegulationsClient("k", base_url=server.base_url, rate_limit_per_hour=1e9)
            con = store.shared({str(db)!r})
            started = time.monotonic()
            result = sync_docket(con, client, snap.docket_id)
            con.close()
            took = time.monotonic() - started
        print(f"{{result.stored_total}} {{took:.2f}} {{con.opens}} {{con.held_s:.2f}} {{result.status}}", flush=True)
        if result.message:
            print(result.message, file=__import__("sys").stderr)
    """)], env=env, stdout=subprocess.PIPE, text=True) for i in (1, 2, 3)]
    waits, reads = [], []
    while any(w.poll() is None for w in writers):
        t0 = time.perf_counter()
        with store.reading(db, wait=600) as con:
            t1 = time.perf_counter()
            con.execute("select docket_id, count(*) from comments group by 1").fetchall()
        waits.append(t1 - t0)
        reads.append(time.perf_counter() - t1)
        time.sleep(0.2)
    print(f"storage: 3 processes sync {comments:,} comments each into one DuckDB file while this one reads "
          f"({latency * 1000:.0f} ms per request, no key limits)")
    for i, w in enumerate(writers, start=1):
        stored, took, opens, held, status = w.stdout.read().split()
        print(f"  writer {i}: {int(stored):,} comments ({status}) in {float(took):.1f} s ({int(stored) / float(took):,.0f}/s); "
              f"held the file {float(held):.1f} s of it ({100 * float(held) / float(took):.0f}%) in {opens} opens")
    print(f"  reader: {len(waits)} reads; waited to get in p50 {1000 * statistics.median(waits):.0f} ms, "
          f"p95 {1000 * _pct(waits, 0.95):.0f} ms, max {1000 * max(waits):.0f} ms; "
          f"the query itself p50 {1000 * statistics.median(reads):.0f} ms")


# --------------------------------------------------------------------------- dockets


def dockets(comments: int, latency: float, workers_list: list[int]) -> None:
    from scale_harness import PrefectStack

    from comments.replay import Faults, ReplayServer, Snapshot

    names = ("SYN-2024-0001", "SYN-2024-0002", "SYN-2024-0003")
    keys = ("bench-key-1", "bench-key-2")
    print(f"dockets: 3 dockets of {comments:,} comments, {latency * 1000:.0f} ms per request, 2 keys (not binding)")
    for n in workers_list:
        snap = Snapshot.combined(Snapshot.synthetic(comments, docket_id=d, seed=i) for i, d in enumerate(names))
        server = ReplayServer(snap, api_keys=keys, faults=Faults(latency=latency)).start()
        root = Path(tempfile.mkdtemp(prefix=f"scale-dockets-{n}-"))
        stack = PrefectStack(root)
        db = root / "comments.duckdb"
        env = {"REGULATIONS_GOV_API_KEY": ",".join(keys), "REGULATIONS_GOV_BASE_URL": server.base_url,
               "REGULATIONS_GOV_RATE_LIMIT": "1000000", "COMMENTS_DB": str(db), "COMMENTS_ATTACHMENT_HOSTS": "127.0.0.1",
               "PREFECT_WORKER_QUERY_SECONDS": "2"}
        watchlist = root / "watchlist.toml"
        watchlist.write_text(f'[settings]\ndb = "{db}"\nout_dir = "{root / "out"}"\n'
                             + "".join(f'[[docket]]\nid = "{d}"\n' for d in names))
        try:
            stack.start_server()
            out = stack.cli("keys", "setup", "--budget", "1000000", env=env)
            assert out.returncode == 0, out.stderr
            stack.deploy()
            for i in range(n):
                stack.workers.append(stack._popen(
                    [str(stack.bin / "prefect"), "worker", "start", "--pool", "comments-pool", "--type", "process",
                     "--limit", "1", "--name", f"w{i + 1}"], f"worker-{i + 1}.log", {**stack.env, **env}))
            started = time.monotonic()
            planner = subprocess.run(
                [sys.executable, "-c", f"from flows.watchlist import plan_watchlist; print(plan_watchlist({str(watchlist)!r})['summary'])"],
                env={**stack.env, **env}, cwd=root, capture_output=True, text=True, timeout=7200,
            )
            took = time.monotonic() - started
            if planner.returncode != 0:
                raise SystemExit(f"the planner failed:\n{planner.stderr[-3000:]}\n{stack.log_tail()}")
            requests = server.stats.total
            print(f"  {n} worker(s): 3 dockets in {took:.0f} s = {3 * 3600 / took:,.0f} dockets/hour "
                  f"({requests / took:.1f} API requests/s over the whole run)")
        finally:
            stack.stop()
            server.stop()


# --------------------------------------------------------------------------- extraction


def extraction(pdfs: int, pages: int, workers_list: list[int], batch: int) -> None:
    from extraction import make_pdf  # benchmarks/extraction.py
    from test_attachments import FileServer, detail

    from comments import records, store
    from comments.attachments import files_dir_for, pipeline
    from flows.attachments import fetch_attachments

    rng = random.Random(7)
    files = FileServer()
    docket = "TEST-2024-0001"
    try:
        comments = []
        for i in range(pdfs):
            files.files[f"/x/{i}.pdf"] = make_pdf(pages, rng)
            comments.append(detail(f"X-{i:05d}", "see attached", [{"url": f"{files.url}/x/{i}.pdf", "format": "pdf"}],
                                   docket=docket))
        os.environ["COMMENTS_ATTACHMENT_HOSTS"] = "127.0.0.1"
        os.environ["COMMENTS_ATTACHMENT_MAX_BYTES"] = str(50 * 1024 * 1024)
        print(f"extraction: {pdfs} PDFs of {pages} pages ({pdfs * pages:,} pages), downloaded on loopback and "
              f"extracted on a Dask LocalCluster")
        for n in workers_list:
            root = Path(tempfile.mkdtemp(prefix=f"scale-extraction-{n}-"))
            db = root / "c.duckdb"
            con = store.connect(db)
            records.save_comments(con, comments)
            # Downloads are paced (4 files/s across all workers, to be polite to the host), so they
            # would set the pace here: fetch the files first, then time the extraction alone.
            rows = pipeline.pending_rows(con, docket)
            fetched = pipeline.download_batch(rows, {}, files_dir_for(db), hosts=("127.0.0.1",), pace_s=0)
            pipeline.save_files(con, fetched["new_files"])
            con.close()
            started = time.monotonic()
            counts = fetch_attachments(docket, db=str(db), dask=True, dask_workers=n, batch_files=batch)
            took = time.monotonic() - started
            with store.reading(db) as con:
                total_pages = con.execute("select sum(page_count) from attachments where status = 'ok'").fetchone()[0]
            print(f"  {n} Dask worker(s): {counts['ok']} files, {total_pages:,} pages in {took:.1f} s = "
                  f"{total_pages / took:,.0f} pages/s (Prefect flow, cluster start included)")
    finally:
        files.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=("storage", "dockets", "extraction", "all"), default="all")
    parser.add_argument("--comments", type=int, default=600, help="comments per docket (storage: 5000)")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--pdfs", type=int, default=600)
    parser.add_argument("--batch", type=int, default=100, help="files per Dask task (the deployment's default)")
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.part in ("storage", "all"):
        storage(args.comments if args.part == "storage" else 5000, 0.0)
        storage(args.comments if args.part == "storage" else 3000, args.latency)
    if args.part in ("extraction", "all"):
        extraction(args.pdfs, args.pages, workers, args.batch)
    if args.part in ("dockets", "all"):
        dockets(args.comments, args.latency, workers)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
