"""Benchmark: the whole analysis (`analyze_docket`) at 10k / 100k / 1M comments.

    .venv/bin/python benchmarks/analysis.py                      # 10,000 and 100,000
    .venv/bin/python benchmarks/analysis.py --sizes 1000000      # one million
    .venv/bin/python benchmarks/analysis.py --sizes 10000 --keep /tmp/bench.duckdb

Comments are generated from the real texts bundled with the project (the 647
CMS-2022-0163 comments and the 982 CMS-2025-0050 bulk-CSV comments):
- ~60% are copies of campaign templates (real letters, including the real
  CMS-2022-0163 form letter), sizes Zipf-like: half exact copies, the rest
  personalized (a greeting with a name, and/or sentences of their own added);
- ~40% are singletons: real sentences from different letters stitched together
  (every one a distinct text), 10% of them real comments verbatim;
- received times to the minute, some campaigns arriving in bursts; 1% of
  comments carry an agency `duplicateComments` count; 10% of singletons an
  organization name.

Each size is generated into a fresh DuckDB file, then analyzed in a separate
process so that the peak memory (ru_maxrss) is the analysis's own.
Targets (2-core machine): 100,000 in <= 60 s under 3 GB; 1,000,000 in <= 10 min under 8 GB.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKET = "BENCH-2025-0001"
FIRST = ["Mary", "James", "Linda", "Robert", "Ana", "Wei", "Fatima", "John", "Priya", "Carlos", "Grace", "Omar"]
LAST = ["Smith", "Garcia", "Nguyen", "Johnson", "Khan", "Brown", "Lee", "Martinez", "Cohen", "Okafor", "Davis"]


def real_texts() -> list[str]:
    from comments.textutil import html_to_text

    texts = []
    for f in sorted(glob.glob(str(ROOT / "src/comments/data/mirrulations/raw-data/CMS/*/text-*/comments/*.json"))):
        a = json.loads(Path(f).read_text(encoding="utf-8"))["data"]["attributes"]
        texts.append(html_to_text(a.get("comment")) or "")
    with open(ROOT / "tests/data/CMS-2025-0050-0031.bulk.csv", encoding="utf-8", newline="") as fh:
        texts += [(r.get("Comment") or "").strip() for r in csv.DictReader(fh)]
    seen, out = set(), []
    for t in texts:
        if len(t.split()) >= 30 and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def generate(path: Path, n: int, seed: int = 7) -> dict:
    """Write `n` generated comments for DOCKET into the database at `path`."""
    import pyarrow as pa

    from comments import store
    from comments.analysis.normalize import sentences

    rng = random.Random(seed)
    pool = real_texts()
    sents = [t[s:e] for t in pool for s, e in sentences(t) if len(t[s:e].split()) >= 6]
    letters = [t for t in pool if 80 <= len(t.split()) <= 700]
    form = next(t for t in pool if "One piece of information that is often important" in t)
    n_campaigns = max(5, n // 4000)
    templates = [form] + rng.sample(letters, min(len(letters), n_campaigns - 1))
    campaign_total = int(n * 0.6)
    weights = [1 / (k + 1) for k in range(len(templates))]
    scale = campaign_total / sum(weights)
    sizes = [max(2, int(w * scale)) for w in weights]
    orgs = [r for r in {line.strip() for line in _org_names()} if r]
    con = store.connect(path)
    start = datetime(2025, 5, 16, 12, 0)
    made = 0
    batch: list[dict] = []

    def emit(text: str, *, first=None, last=None, org=None, received=None, dup=0):
        nonlocal made
        made += 1
        batch.append({
            "comment_id": f"{DOCKET}-{made:07d}", "docket_id": DOCKET, "document_type": "Public Submission",
            "posted_date": received.replace(hour=4, minute=0), "received_date": received, "title": "Comment on " + DOCKET,
            "text": text, "organization": org, "first_name": first, "last_name": last,
            "category": "Individual" if first else None, "duplicate_comments": dup, "source": "benchmark",
        })
        if len(batch) >= 20_000:
            flush()

    def flush():
        if batch:
            store.upsert(con, "comments", pa.Table.from_pylist(batch), ["comment_id"])
            batch.clear()

    for template, size in zip(templates, sizes, strict=True):
        if made >= campaign_total:
            break
        burst_at = start + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
        for j in range(min(size, campaign_total - made)):
            r = rng.random()
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if r < 0.5:
                text = template
            elif r < 0.8:
                text = f"Dear CMS, my name is {first} {last}.\n\n{template}"
            else:
                extra = " ".join(rng.choice(sents) for _ in range(rng.randint(1, 3)))
                text = f"{template}\n\n{extra}"
            if j < size // 20:  # the first 5% of a campaign arrive within minutes
                received = burst_at + timedelta(seconds=rng.randrange(0, 300))
            else:
                received = start + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
            anonymous = rng.random() < 0.05
            emit(text, first="Anonymous" if anonymous else first, last="Anonymous" if anonymous else last,
                 received=received, dup=rng.randint(1, 500) if rng.random() < 0.01 else 0)
    while made < n:
        if rng.random() < 0.1:
            text = rng.choice(pool)
        else:
            text = " ".join(rng.choice(sents) for _ in range(rng.randint(3, 8)))
        org = rng.choice(orgs) if orgs and rng.random() < 0.1 else None
        emit(text, first=None if org else rng.choice(FIRST), last=None if org else rng.choice(LAST), org=org,
             received=start + timedelta(minutes=rng.randrange(0, 30 * 24 * 60)),
             dup=rng.randint(1, 500) if rng.random() < 0.01 else 0)
    flush()
    con.execute("checkpoint")
    con.close()
    return {"comments": made, "campaign_templates": len(templates)}


def _org_names() -> list[str]:
    names = []
    for f in sorted(glob.glob(str(ROOT / "src/comments/data/mirrulations/raw-data/CMS/*/text-*/comments/*.json"))):
        org = json.loads(Path(f).read_text(encoding="utf-8"))["data"]["attributes"].get("organization")
        if org:
            names.append(org)
    return names


def run_one(db: str) -> None:
    """Analyze DOCKET in `db` (child process) and print the figures as JSON."""
    from comments import store
    from comments.analysis.pipeline import analyze_docket

    con = store.connect(db)
    t0, c0 = time.perf_counter(), time.process_time()
    result = analyze_docket(con, DOCKET)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    head = con.execute(
        (ROOT / "sql/reports/headline_numbers.sql").read_text(encoding="utf-8"), {"docket_id": DOCKET}
    ).fetchone()
    con.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 2), "peak_mb": round(peak_mb),
        "timings": result.timings, "cpu_timings": result.cpu_timings, "peak_mb_by_step": result.peak_mb,
        "comments": result.comments, "unique_texts": result.unique_texts, "campaigns": result.campaigns,
        "campaign_members": result.campaign_members, "themes": result.themes, "bursts": result.bursts,
        "reconciles": bool(head[-3] and head[-2] and head[-1]),
    }))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated comment counts")
    ap.add_argument("--keep", help="generate into this file and keep it (one size only)")
    ap.add_argument("--run", help=argparse.SUPPRESS)  # child mode: analyze this database
    args = ap.parse_args(argv)
    if args.run:
        run_one(args.run)
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(f"{'comments':>10} {'gen s':>7} {'analyze s':>9} {'CPU s':>7} {'peak MB':>8} {'unique':>8} {'campaigns':>9} {'themes':>6} {'bursts':>6}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(args.keep) if args.keep else Path(tmp) / f"bench-{n}.duckdb"
            if db.exists():
                db.unlink()
            t0 = time.perf_counter()
            generate(db, n)
            gen_s = time.perf_counter() - t0
            out = subprocess.run([sys.executable, __file__, "--run", str(db)], capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['comments']:>10,} {gen_s:>7.1f} {r['seconds']:>9.1f} {r['cpu_seconds']:>7.1f} {r['peak_mb']:>8,} "
                  f"{r['unique_texts']:>8,} {r['campaigns']:>9,} {r['themes']:>6} {r['bursts']:>6}  "
                  f"reconciles={r['reconciles']}", flush=True)
            # per step: wall s / CPU s / peak MB reached by the end of the step
            for step, wall in r["timings"].items():
                print(f"{'':>12}{step:<22} wall {wall:>7.1f}  cpu {r['cpu_timings'][step]:>7.1f}  "
                      f"peak {r['peak_mb_by_step'][step]:>6,} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
