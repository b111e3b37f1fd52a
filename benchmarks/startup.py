"""Start-up of trivial commands: time to first output, total time, processes left behind.

    python benchmarks/startup.py [--repeat 5] [--prefect-repeat 2]

Each command runs as a user would run it, in a terminal (a pseudo-terminal,
so progress bars show as soon as work starts): `comments --help`,
`comments status`, and a one-row `comments import bulk-csv` into a fresh
database, the last both the default way (no Prefect API configured: the
stages run directly) and with COMMENTS_PREFECT=on (the Prefect flow on
Prefect's local server, as every command ran before). "First output" is the
first byte the command writes; "left behind" counts processes still alive
after the command exited that carry this run's marker in their environment.
Prints the median (min-max) of each figure, and the load average, since the
machine may be shared.
"""

from __future__ import annotations

import argparse
import csv
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CSV = ROOT / "tests" / "data" / "CMS-2025-0050-0031.bulk.csv"


def comments_command() -> list[str]:
    exe = shutil.which("comments", path=str(Path(sys.executable).parent)) or shutil.which("comments")
    return [exe] if exe else [sys.executable, "-m", "comments.cli"]


def one_row_csv(path: Path) -> Path:
    with SAMPLE_CSV.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = next(rows)
        kind = header.index("Document Type")
        row = next(r for r in rows if r[kind] == "Public Submission")
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, row])
    return path


def run_once(argv: list[str], env: dict[str, str], marker: str) -> dict:
    """Run in a pseudo-terminal; seconds to the first byte written and to exit, and leftovers."""
    master, slave = pty.openpty()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    first = None
    output = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            data = b""
        if not data:
            break
        if first is None:
            first = time.perf_counter() - started
        output += data
    proc.wait()
    total = time.perf_counter() - started
    os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{output.decode(errors='replace')[-2000:]}")
    time.sleep(0.5)  # let anything that outlived the command show itself
    left = [p for p in psutil.process_iter() if _carries(p, marker)]
    for p in left:
        p.kill()
    return {"first": first if first is not None else total, "total": total, "left": len(left)}


def _carries(p: psutil.Process, marker: str) -> bool:
    try:
        return p.environ().get("COMMENTS_BENCH_RUN") == marker
    except psutil.Error:
        return False


def measure(name: str, argv_for, env: dict[str, str], repeat: int) -> dict:
    runs = []
    for n in range(repeat):
        marker = uuid.uuid4().hex
        runs.append(run_once(argv_for(n), env | {"COMMENTS_BENCH_RUN": marker}, marker))
    return {
        "name": name,
        "first": [r["first"] for r in runs],
        "total": [r["total"] for r in runs],
        "left": sum(r["left"] for r in runs),
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--prefect-repeat", type=int, default=2, help="runs with COMMENTS_PREFECT=on (default 2; 0 skips them)")
    args = parser.parse_args()

    cmd = comments_command()
    work = Path(tempfile.mkdtemp(prefix="comments-startup-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMENTS_", "PREFECT_API_URL"))}
    env.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    sample = one_row_csv(work / "one.csv")
    status_db = work / "status.duckdb"
    subprocess.run([*cmd, "import", "bulk-csv", str(sample), "--db", str(status_db)], env=env, check=True,
                   capture_output=True)

    def fresh_import(tag: str):
        return lambda n: [*cmd, "import", "bulk-csv", str(sample), "--db", str(work / f"{tag}-{n}.duckdb")]

    print(f"command: {' '.join(cmd)}; {os.cpu_count()} cores; load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    results = [
        measure("comments --help", lambda n: [*cmd, "--help"], env, args.repeat),
        measure("comments status", lambda n: [*cmd, "status", "--db", str(status_db)], env, args.repeat),
        measure("comments import bulk-csv (1 row)", fresh_import("direct"), env, args.repeat),
    ]
    if args.prefect_repeat:
        results.append(measure("comments import bulk-csv (1 row), COMMENTS_PREFECT=on", fresh_import("prefect"),
                               env | {"COMMENTS_PREFECT": "on"}, args.prefect_repeat))
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print()
    print("| command | runs | first output | total | processes left behind |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| `{r['name']}` | {len(r['total'])} | {spread(r['first'])} | {spread(r['total'])} | {r['left']} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
