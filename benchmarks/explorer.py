"""Benchmark: the explorer at 10k / 100k / 300k comments: page render times and search latency.

    .venv/bin/python benchmarks/explorer.py                        # 10,000, 100,000 and 300,000
    .venv/bin/python benchmarks/explorer.py --sizes 10000          # one size
    .venv/bin/python benchmarks/explorer.py --keep-dir /tmp/ex     # keep (and reuse) the generated databases

The dockets are SYNTHETIC: benchmarks/analysis.py's generator (real texts of the two bundled
dockets, ~60% copies of campaign templates, ~40% singletons stitched from real sentences, a month
of received dates), analyzed by the real pipeline (analyze_docket). For each size:

- search index: a full build from the database (comments/s, what `comments search` does the
  first time), the check when nothing changed, and the incremental update after a sync that
  adds 1% new comments and edits 0.1%;
- snapshot: the explorer's start (copy of the database, prepared for reading);
- search latency: the engine alone (count, top 50 and the submissions sum) for 5 queries x 4
  filter sets, 3 rounds: p50 and p95;
- pages: every page over HTTP on 127.0.0.1 (the explorer's uvicorn in this process, an httpx
  client), 20 requests each after one warm-up: median and p95; the comments list at its first
  and its last page (keyset), and LIMIT/OFFSET at the same depth for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import analysis as gen  # noqa: E402  (benchmarks/analysis.py: the synthetic docket generator)

DOCKET = gen.DOCKET
QUERIES = ["privacy", "data sharing", '"national directory"', "provider directory accuracy -fax", "biological sex"]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def cpu_seconds() -> float:
    """CPU time of this process, all threads (DuckDB's and Tantivy's included)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def prepare(db: Path, n: int) -> None:
    if db.exists():
        print(f"  reusing {db}")
        return
    t = time.perf_counter()
    gen.generate(db, n)
    print(f"  generated {n:,} comments in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "analysis.py"), "--run", str(db)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    print(f"  analyzed in {time.perf_counter() - t:.1f} s", flush=True)


def bench_index(db: Path) -> dict:
    from comments import search_index, store

    shutil.rmtree(search_index.root_for(db), ignore_errors=True)
    con = store.connect(db)
    try:
        total = con.execute("select count(*) from comments where docket_id = ?", [DOCKET]).fetchone()[0]
        t, c = time.perf_counter(), cpu_seconds()
        built = search_index.update(con, DOCKET)
        build_s, build_cpu = time.perf_counter() - t, cpu_seconds() - c
        t = time.perf_counter()
        search_index.update(con, DOCKET)
        noop_s = time.perf_counter() - t
    finally:
        con.close()
    return {"comments": total, "indexed": built["indexed"], "build_s": build_s, "rate": total / build_s,
            "cpu_s": build_cpu, "noop_s": noop_s}


def bench_incremental(db: Path) -> dict:
    """A sync's worth of change: 1% new comments (texts of existing ones), 0.1% edited.

    Made on a copy of the database and its index, so the generated docket stays as it was.
    """
    import pyarrow as pa

    from comments import search_index, store

    copy = db.with_name(db.stem + "-sync.duckdb")
    shutil.copyfile(db, copy)
    shutil.rmtree(search_index.root_for(copy), ignore_errors=True)
    shutil.copytree(search_index.root_for(db), search_index.root_for(copy))
    con = store.connect(copy)
    try:
        n = con.execute("select count(*) from comments where docket_id = ?", [DOCKET]).fetchall()[0][0]
        base = con.sql(f"select * exclude (comment_id) from comments where docket_id = $d order by comment_id limit {max(1, n // 100)}",
                       params={"d": DOCKET}).to_arrow_table()
        ids = pa.array([f"{DOCKET}-9{i:07d}" for i in range(base.num_rows)])
        store.upsert(con, "comments", base.append_column("comment_id", ids), ["comment_id"])
        con.execute(f"""update comments set text = text || ' An edited sentence about zebrafish registries.'
                        where comment_id in (select comment_id from comments where docket_id = ? and comment_id < ?
                                             order by comment_id desc limit {max(1, n // 1000)})""", [DOCKET, f"{DOCKET}-9"])
        t = time.perf_counter()
        r = search_index.update(con, DOCKET)
        return {"added": base.num_rows, "edited": max(1, n // 1000), "seconds": time.perf_counter() - t, **r}
    finally:
        con.close()
        copy.unlink(missing_ok=True)
        shutil.rmtree(search_index.root_for(copy), ignore_errors=True)


def bench_search(ex) -> dict:
    from comments import search, search_index
    from comments.filters import Filters

    with ex.manager.use() as snap:
        cur = snap.cursor()
        theme = cur.execute("select theme_id from themes where docket_id = ? and not is_catch_all order by rank limit 1",
                            [DOCKET]).fetchone()[0]
        day = cur.execute("select min(day) + 7, min(day) + 14 from explorer_facets where docket_id = ?", [DOCKET]).fetchone()
        cur.close()
    filter_sets = [Filters(), Filters(stance="oppose"), Filters(theme=theme, stance="support"),
                   Filters(campaign="none", date_from=day[0], date_to=day[1])]
    times, per_query = [], {}
    for _ in range(3):
        for q in QUERIES:
            parsed = search.parse_query(q)
            for f in filter_sets:
                t = time.perf_counter()
                r = search_index.query(ex.manager.index_root, DOCKET, parsed, filters=f, limit=50, with_submissions=True)
                dt = time.perf_counter() - t
                times.append(dt)
                per_query.setdefault(q, []).append((dt, r.total))
    return {"p50": pct(times, 0.5), "p95": pct(times, 0.95), "max": max(times),
            "matches": {q: max(t for _, t in v) for q, v in per_query.items()}}


def bench_pages(ex, rounds: int = 20) -> list[tuple[str, float, float]]:
    import httpx

    with ex.manager.use() as snap:
        cur = snap.cursor()
        total = cur.execute("select count(*) from explorer_facets where docket_id = ?", [DOCKET]).fetchone()[0]
        key, cid = cur.execute("""select posted_key, comment_id from explorer_facets where docket_id = ?
                                  order by posted_key desc, comment_id desc limit 1 offset ?""",
                               [DOCKET, max(0, total - 51)]).fetchone()
        copy_id, campaign = cur.execute("""select comment_id, campaign_id from campaign_members where docket_id = ?
            and not is_template order by len(unique_additions) desc, comment_id limit 1""", [DOCKET]).fetchone()
        largest = cur.execute("select campaign_id from campaigns where docket_id = ? order by size desc limit 1",
                              [DOCKET]).fetchone()[0]
        theme = cur.execute("select theme_id from themes where docket_id = ? and not is_catch_all order by rank limit 1",
                            [DOCKET]).fetchone()[0]
        cur.close()
    d = f"/d/{DOCKET}"
    pages = [
        ("dockets", "/"),
        ("docket", d),
        ("comments, first page", f"{d}/comments"),
        ("comments, last page (keyset)", f"{d}/comments?after={cid}"),
        ("comments, stance + theme", f"{d}/comments?stance=oppose&theme={theme}"),
        ("search 'privacy'", f"{d}/comments?q=privacy"),
        ("search phrase + stance", f"{d}/comments?q=%22national+directory%22&stance=oppose"),
        ("comment (campaign copy)", f"{d}/c/{copy_id}"),
        (f"campaign {campaign}", f"{d}/campaigns/{campaign}"),
        (f"campaign {largest} (largest)", f"{d}/campaigns/{largest}"),
        ("label mode (25 comments)", f"{d}/label"),
    ]
    out = []
    with httpx.Client(base_url=ex.base_url, timeout=120) as http:
        for name, path in pages:
            r = http.get(path)
            assert r.status_code == 200, (path, r.status_code)
            times = []
            for _ in range(rounds):
                t = time.perf_counter()
                http.get(path)
                times.append(time.perf_counter() - t)
            out.append((name, statistics.median(times), pct(times, 0.95)))
    return out


def bench_paging(ex) -> tuple[float, float]:
    """The last page: keyset (what the explorer does) vs LIMIT/OFFSET, on the snapshot."""
    with ex.manager.use() as snap:
        cur = snap.cursor()
        total = cur.execute("select count(*) from explorer_facets where docket_id = ?", [DOCKET]).fetchone()[0]
        key, cid = cur.execute("""select posted_key, comment_id from explorer_facets where docket_id = ?
                                  order by posted_key desc, comment_id desc limit 1 offset ?""",
                               [DOCKET, max(0, total - 51)]).fetchone()
        keyset, offset = [], []
        for _ in range(10):
            t = time.perf_counter()
            cur.execute("""select * from explorer_facets f where f.docket_id = ?
                           and (f.posted_key < ? or (f.posted_key = ? and f.comment_id < ?))
                           order by f.posted_key desc, f.comment_id desc limit 51""", [DOCKET, key, key, cid]).fetchall()
            keyset.append(time.perf_counter() - t)
            t = time.perf_counter()
            cur.execute("""select * from explorer_facets f where f.docket_id = ?
                           order by f.posted_key desc, f.comment_id desc limit 51 offset ?""",
                        [DOCKET, max(0, total - 50)]).fetchall()
            offset.append(time.perf_counter() - t)
        cur.close()
    return statistics.median(keyset), statistics.median(offset)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,300000", help="comma-separated comment counts")
    ap.add_argument("--keep-dir", help="keep the generated databases here (and reuse them when present)")
    ap.add_argument("--index-only", action="store_true", help="measure the search index build only")
    args = ap.parse_args(argv)
    from comments.explorer import server

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.keep_dir) if args.keep_dir else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            db = folder / f"explorer-{n}.duckdb"
            print(f"\n== {n:,} synthetic comments ({DOCKET})", flush=True)
            prepare(db, n)
            ix = bench_index(db)
            if args.index_only:
                print(f"  search index build: {ix['comments']:,} comments in {ix['build_s']:.1f} s = {ix['rate']:,.0f}/s "
                      f"(CPU {ix['cpu_s']:.1f} s)", flush=True)
                continue
            print(f"  search index build: {ix['comments']:,} comments ({ix['indexed']:,} with text) in {ix['build_s']:.1f} s "
                  f"= {ix['rate']:,.0f} comments/s (CPU {ix['cpu_s']:.1f} s: {ix['comments'] / ix['cpu_s']:,.0f} comments "
                  f"per CPU-second); check with nothing changed {ix['noop_s']:.2f} s", flush=True)
            t = time.perf_counter()
            ex = server.start(db, port=0, poll=3600)
            start_s = time.perf_counter() - t
            try:
                ex.manager.settled.wait(600)  # its index check and page caches done: nothing else runs
                print(f"  explorer start (copy + prepare the snapshot): {start_s:.1f} s; db file "
                      f"{db.stat().st_size / 1e6:,.0f} MB", flush=True)
                s = bench_search(ex)
                print(f"  search engine (count + top 50 + submissions, 5 queries x 4 filter sets x 3): "
                      f"p50 {ms(s['p50'])} ms, p95 {ms(s['p95'])} ms, max {ms(s['max'])} ms", flush=True)
                print("    matches: " + ", ".join(f"{q} {m:,}" for q, m in s["matches"].items()))
                keyset, offset = bench_paging(ex)
                print(f"  last page in SQL: keyset {ms(keyset)} ms, LIMIT/OFFSET {ms(offset)} ms")
                print(f"  {'page (HTTP, 20 requests)':<34} {'median ms':>10} {'p95 ms':>8}")
                for name, med, p95 in bench_pages(ex):
                    print(f"  {name:<34} {ms(med):>10} {ms(p95):>8}", flush=True)
            finally:
                ex.stop()
            inc = bench_incremental(db)
            print(f"  incremental index update after a sync (+{inc['added']:,} new, {inc['edited']:,} edited): "
                  f"{inc['indexed']:,} re-indexed in {inc['seconds']:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
