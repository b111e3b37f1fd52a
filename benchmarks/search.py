"""Full-text search at scale: index build, incremental update, query latency, peak memory.

    .venv/bin/python benchmarks/search.py [--comments 100000]

The index is Tantivy's, beside the database (comments.search_index). Query latency is
measured twice: the engine alone (count + top 10, with and without filters: p50/p95) and
`search()` as the CLI calls it (with snippets read from the database).

Comments are generated from the real texts of the bundled docket (CMS-2022-0163):
each synthetic comment is a real comment's text with a few words of a random
other one appended, so term statistics look like a real docket's. They are
written in Arrow batches through records.save_comments.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from comments import records, search, search_index, store
from comments.filters import Filters
from comments.resources import bundled_mirrulations

QUERIES = ["privacy", "data sharing", '"national directory"', "provider directory accuracy -fax", "biological sex"]


def real_texts() -> list[str]:
    texts = []
    for f in sorted(Path(bundled_mirrulations()).rglob("comments/*.json")):
        text = (json.loads(f.read_text())["data"]["attributes"].get("comment") or "").strip()
        if len(text.split()) > 5:
            texts.append(text)
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=100_000)
    args = parser.parse_args()
    texts = real_texts()
    rng = random.Random(0)
    docket = "BENCH-2025-0001"
    with tempfile.TemporaryDirectory() as tmp:
        con = store.connect(Path(tmp) / "bench.duckdb")
        t = time.perf_counter()
        batch = []
        for i in range(args.comments):
            extra = " ".join(rng.choice(texts).split()[:8])
            batch.append({"data": {"id": f"{docket}-{i:07d}", "attributes": {
                "docketId": docket, "comment": f"{rng.choice(texts)} {extra}", "postedDate": "2025-03-01T12:00:00Z"}}})
            if len(batch) == 10_000:
                records.save_comments(con, batch)
                batch = []
        if batch:
            records.save_comments(con, batch)
        print(f"generated and stored {args.comments:,} comments in {time.perf_counter() - t:.1f}s")

        t, c = time.perf_counter(), time.process_time()
        stats = search.update_index(con, docket)
        build, build_cpu = time.perf_counter() - t, time.process_time() - c
        root = search_index.root_of(con)
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        print(f"index build: {args.comments:,} comments ({stats['indexed']:,} with text) in {build:.1f}s "
              f"({args.comments / build:,.0f} comments/s; CPU {build_cpu:.1f} s, all threads); index {size / 1e6:,.0f} MB")

        t = time.perf_counter()
        search.update_index(con, docket)
        print(f"index check, nothing changed: {time.perf_counter() - t:.2f}s")

        changed = [{"data": {"id": f"{docket}-{i:07d}", "attributes": {"docketId": docket, "comment": "edited biometrics"}}}
                   for i in range(0, args.comments, 100)]
        records.save_comments(con, changed)
        t = time.perf_counter()
        stats = search.update_index(con, docket)
        print(f"incremental update after {len(changed):,} edits: {stats['indexed']:,} re-indexed in {time.perf_counter() - t:.2f}s")

        filter_sets = [Filters(), Filters(stance="unclear"), Filters(date_from=__import__("datetime").date(2025, 3, 1)),
                       Filters(campaign="none", ctype="unknown")]
        times = []
        for _ in range(3):
            for q in QUERIES:
                parsed = search.parse_query(q)
                for f in filter_sets:
                    t = time.perf_counter()
                    search_index.query(root, docket, parsed, filters=f, limit=10)
                    times.append(time.perf_counter() - t)
        times.sort()
        print(f"engine, {len(QUERIES)} queries x {len(filter_sets)} filter sets x 3: "
              f"p50 {1000 * times[len(times) // 2]:.1f} ms, p95 {1000 * times[int(0.95 * (len(times) - 1))]:.1f} ms")
        for q in QUERIES:
            t = time.perf_counter()
            hits = search.search(con, docket, q, limit=10, refresh=False)
            print(f"search() {q!r}: {len(hits)} hits with snippets in {1000 * (time.perf_counter() - t):.0f} ms")
        t = time.perf_counter()
        search.search(con, docket, "privacy", limit=10, refresh=True)
        print(f"query with index check (what the CLI does): {1000 * (time.perf_counter() - t):.0f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
