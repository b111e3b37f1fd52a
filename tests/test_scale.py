"""Scale out: a Prefect server, 3 process workers, 2 shared keys, 3 dockets at once, one run killed.

THE scale test (marker `scale`, in the default run: it runs first, on one
xdist worker, while the other runs the rest of the suite): a Prefect server
on 127.0.0.1, the project's deployments on a process work pool, 3 workers,
a Dask cluster for the extraction, and the replay server (in this process,
so its counters can be read) serving 3 dockets of 600 comments with faults
switched on and 2 keys under a low per-key budget. The API's rolling hour is
compressed to a rolling 5 s window and its 1,000 requests to 250 (40 slots a
second per key after the burst and the slack): the same pacing, exercised in
seconds. The watchlist planner fans the dockets out; the test SIGKILLs one
sync run mid-sync; the planner starts it again (after its one-writer lease
lapses: 60 s, Prefect's shortest). Then, per docket, the stored ids are the
server's ids; no key went over its budget in any window; no two runs of one
docket overlapped; `comments status` answered while the syncs ran; every
run but the killed one ended Completed; briefings exist.

The other tests here are quicker pieces of the same machinery: the database
shared by a writer and readers, extraction on a Dask cluster with its
per-file time limit.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from comments import records, store
from comments.replay import Faults, ReplayServer, Snapshot

COMMENTS = int(os.environ.get("COMMENTS_SCALE_TEST_COMMENTS", "600"))  # per docket (the 5,000 cap is test_sync_big's)
DOCKETS = ("SYN-2024-0001", "SYN-2024-0002", "SYN-2024-0003")
KEYS = ("scale-key-one", "scale-key-two")
BUDGET, WINDOW_S, BURST, SLACK_S = 250, 5.0, 10, 1.0  # per key: 250 requests in any 5 s
FILES_PER_DOCKET = 12  # attachments served for real (the others point at a host the workers may not reach)
DOWNLOADS = "https://downloads.regulations.gov/"


def _snapshot() -> Snapshot:
    """3 synthetic dockets; in each, FILES_PER_DOCKET attachments (PDF as the pick of their formats) are served."""
    from fpdf import FPDF

    parts = []
    for i, docket in enumerate(DOCKETS):
        snap = Snapshot.synthetic(COMMENTS, docket_id=docket, seed=i + 1)
        served = 0
        for cid in snap.comment_ids():
            for order, item in enumerate(snap.comment_detail(cid).get("included") or (), start=1):
                url, fmt, _ = records.choose_file((item.get("attributes") or {}).get("fileFormats"))
                if served < FILES_PER_DOCKET and fmt == "pdf" and (url or "").startswith(DOWNLOADS):
                    pdf = FPDF()
                    pdf.set_font("Helvetica", size=11)
                    for page in range(2):
                        pdf.add_page()
                        pdf.multi_cell(0, 6, f"Attachment {order} of {cid}, page {page + 1}: we oppose the data sharing.")
                    snap.add_file(url.removeprefix(DOWNLOADS), bytes(pdf.output()))
                    served += 1
        parts.append(snap)
    return Snapshot.combined(parts)


@pytest.mark.scale
@pytest.mark.prefect
@pytest.mark.timeout(600)
def test_three_workers_two_keys_three_dockets_one_killed_run(tmp_path, monkeypatch):
    import dask
    from distributed import LocalCluster
    from scale_harness import PrefectStack

    started = time.time()
    snap = _snapshot()
    faults = Faults(server_error_rate=0.02, drop_rate=0.005, truncate_rate=0.005, rate_limit_rate=0.005, seed=11)
    server = ReplayServer(snap, api_keys=KEYS, rate_limit_per_hour=BUDGET, rate_limit_window_s=WINDOW_S,
                          faults=faults).start()
    stack = PrefectStack(tmp_path)
    db = tmp_path / "data" / "comments.duckdb"
    out = tmp_path / "briefings"
    worker_env = {
        "REGULATIONS_GOV_API_KEY": ",".join(KEYS),
        "REGULATIONS_GOV_BASE_URL": server.base_url,
        # the server counts each key's budget in a rolling 5 s: so does each client's own guard
        "REGULATIONS_GOV_RATE_LIMIT": str(BUDGET),
        "REGULATIONS_GOV_RATE_WINDOW": str(WINDOW_S),
        "COMMENTS_DB": str(db),
        "COMMENTS_ATTACHMENT_HOSTS": "127.0.0.1",
        "COMMENTS_DB_WAIT": "600",
        "PREFECT_WORKER_QUERY_SECONDS": "4",  # pick up stage runs sooner than every 10 s, without writing the server to a stall
        "PREFECT_LOGGING_TO_API_ENABLED": "false",  # runs log to the workers' files: fewer writes for the server
    }
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(
        f'[settings]\ndb = "{db}"\nout_dir = "{out}"\n' + "".join(f'[[docket]]\nid = "{d}"\n' for d in DOCKETS)
    )
    # One Dask cluster the extraction runs share (--dask-address), its workers allowed children
    # (the per-file limits run each file in one) and able to fetch from the replay server.
    # The Dask workers take slots of the shared download limit too: they need the Prefect server.
    monkeypatch.setenv("COMMENTS_ATTACHMENT_HOSTS", "127.0.0.1")
    monkeypatch.setenv("PREFECT_API_URL", stack.api)
    monkeypatch.setenv("COMMENTS_SHARED_LIMITS", "on")
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    status_log: list[tuple[float, float, int, str]] = []
    killed: dict = {}
    try:
        stack.start_server()
        setup = stack.cli("keys", "setup", "--budget", str(BUDGET), "--window", str(WINDOW_S), "--burst", str(BURST),
                          "--slack", str(SLACK_S), env=worker_env)
        assert setup.returncode == 0, setup.stderr
        assert not any(k in setup.stdout + setup.stderr for k in KEYS)  # keys are named by hash only
        stack.deploy()
        stack.start_workers(3, worker_env)
        ready = time.time()
        planner = stack.start_run("plan-watchlist/daily-watchlist",
                                  {"watchlist": str(watchlist), "dask_address": cluster.scheduler_address})

        stop = threading.Event()

        def poll_status() -> None:
            while not stop.is_set():
                t0 = time.time()
                existed = db.exists()  # a sync run starts a moment before it creates the database
                r = stack.cli("status", "--db", str(db), env=worker_env, timeout=600)
                if existed:
                    status_log.append((t0, time.time(), r.returncode, r.stdout + r.stderr))
                stop.wait(4)

        poller = threading.Thread(target=poll_status, daemon=True)
        poller.start()
        victim = DOCKETS[1]
        deadline = time.monotonic() + 480
        while True:
            runs = stack.flow_runs()
            planner_run = next(r for r in runs if str(r.id) == planner)
            if planner_run.state is not None and planner_run.state.is_final():
                break
            assert time.monotonic() < deadline, "the planner did not finish in time\n" + stack.log_tail()
            if not killed:
                _maybe_kill(runs, victim, db, killed)
            time.sleep(1)
        stop.set()
        poller.join(timeout=600)
        elapsed = time.time() - ready

        runs = stack.flow_runs()
        planner_run = next(r for r in runs if str(r.id) == planner)
        assert planner_run.state.is_completed(), f"{planner_run.state!r}\n{stack.log_tail()}"
        assert killed, "no sync run was caught mid-sync to kill"

        # Every run ended Completed, except the one killed, which Prefect saw crash.
        ours = [r for r in runs if r.deployment_id is not None]
        crashed = [r for r in ours if r.state.is_crashed()]
        assert [str(r.id) for r in crashed] == [killed["flow_run"]], [(r.name, r.state.name) for r in ours]
        assert all(r.state.is_completed() for r in ours if str(r.id) != killed["flow_run"]), \
            [(r.name, r.state.name, r.state.message) for r in ours]
        syncs_of_victim = [r for r in ours if r.parameters.get("docket_ids") == [victim]]
        assert len(syncs_of_victim) == 2  # the killed one and the planner's re-run

        # Per docket: exactly the server's ids, none lost, none twice.
        with store.reading(db, wait=60) as con:
            for docket in DOCKETS:
                stored = [r[0] for r in con.execute(
                    "select comment_id from comments where docket_id = ?", [docket]).fetchall()]
                want = [c for c in snap.comment_ids() if c.startswith(docket + "-")]
                assert len(stored) == len(set(stored)) == len(want) == COMMENTS
                assert set(stored) == set(want), docket
            # No two runs of one docket overlapped (sync and analysis hold its one-writer limit).
            for docket in DOCKETS:
                spans = con.execute(
                    """select started_at, finished_at, status, 'sync' from sync_runs where docket_id = ?
                       union all
                       select started_at, finished_at, status, 'analysis' from analysis_runs where docket_id = ?
                       order by 1""", [docket, docket]).fetchall()
                busy_until, busy_with = None, None
                for start, finish, status, kind in spans:
                    assert busy_until is None or busy_until <= start, \
                        f"{docket}: a {busy_with} run still ran when a {kind} run started"
                    end = finish if finish is not None else killed["at"]  # only the killed run never finished
                    if busy_until is None or end > busy_until:
                        busy_until, busy_with = end, f"{kind} ({status})"
            # The killed run is recorded as interrupted, not as running (its process is gone).
            assert con.execute("select count(*) from sync_runs where status = 'running'").fetchone()[0] == 0
            # Attachments were downloaded and read on the Dask cluster.
            ok = con.execute(
                "select count(*) from attachments a join comments c using (comment_id) where a.status = 'ok'"
                " and a.text like '%we oppose the data sharing%'").fetchone()[0]
            assert ok == FILES_PER_DOCKET * len(DOCKETS)

        # The server saw no key over its budget in any window, and no 429 of our making.
        stats = server.stats.as_dict()
        assert stats.get("over_limit", 0) == 0, stats
        assert stats.get("status_429", 0) <= stats["errors_injected"]  # every 429 was an injected fault

        # `comments status` answered while the syncs ran.
        syncs = [r for r in ours if r.parameters.get("docket_ids") and r.start_time and r.end_time]
        first_sync, last_sync = min(r.start_time for r in syncs).timestamp(), max(r.end_time for r in syncs).timestamp()
        during = [s for s in status_log if first_sync <= s[0] and s[1] <= last_sync]
        assert len(during) >= 5, status_log
        assert all(rc == 0 for _, _, rc, _ in during), [s for s in during if s[2] != 0][:3]
        assert any(": running; " in text for _, _, _, text in during), during[-1][3]  # a live run, told apart

        for docket in DOCKETS:
            assert (out / f"{docket}.html").is_file() and (out / f"{docket}.changes.md").is_file()
        print(f"\nscale test: {time.time() - started:.0f} s in all, {elapsed:.0f} s from the planner's start; "
              f"server {stats}; status answered {len(during)} times during the syncs,"
              f" slowest {max(s[1] - s[0] for s in during):.1f} s")
        for r in sorted(ours, key=lambda r: r.start_time or r.expected_start_time):
            what = r.parameters.get("docket_ids") or r.parameters.get("docket_id") or "planner"
            span = (r.end_time - r.start_time).total_seconds() if r.start_time and r.end_time else None
            print(f"  {r.start_time:%H:%M:%S} {r.name:24} {str(what):20} {r.state.name:10} {span or 0:7.1f} s")
    finally:
        stack.stop()
        cluster.close()
        server.stop()


def _maybe_kill(runs, victim: str, db: Path, killed: dict) -> None:
    """SIGKILL the victim docket's sync run once it has stored a page or more, not all (mid-sync).

    Early: the run started again waits a minute for the dead run's one-writer lease to lapse.
    """
    run = next((r for r in runs if r.parameters.get("docket_ids") == [victim] and r.state is not None
                and r.state.is_running() and r.infrastructure_pid), None)
    if run is None or not db.exists():
        return
    with store.reading(db, wait=60) as con:
        stored = con.execute("select count(*) from comments where docket_id = ?", [victim]).fetchone()[0]
    if stored < COMMENTS // 8 or stored >= COMMENTS // 2:
        return
    pid = int(str(run.infrastructure_pid).rsplit(":", 1)[-1])
    os.kill(pid, signal.SIGKILL)
    killed.update(flow_run=str(run.id), at=records.now_utc(), stored=stored)


# --------------------------------------------------------------------------- quicker pieces


def test_a_reader_answers_while_a_writer_process_syncs(tmp_path):
    """`comments status` and `store.reading` answer while another process writes through `store.shared`."""
    db = tmp_path / "c.duckdb"
    store.connect(db).close()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from comments import records, store
        con = store.shared({str(db)!r})
        print("ready", flush=True)
        for page in range(40):                 # a page saved, then a network wait
            con.execute("begin transaction")
            con.execute("insert into sync_state (docket_id, api_total) values (?, ?)"
                        " on conflict (docket_id) do update set api_total = excluded.api_total", ["D-1", page])
            time.sleep(0.05)
            con.execute("commit")
            store.release(con)
            time.sleep(0.1)
        con.close()
    """)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COMMENTS_DB_WAIT": "60"})
    try:
        assert writer.stdout.readline().strip() == "ready"
        seen = []
        while writer.poll() is None:
            with store.reading(db, wait=10) as con:
                seen.append(con.execute("select api_total from sync_state where docket_id = 'D-1'").fetchone())
            time.sleep(0.02)  # a reader asks now and then (one that never lets go holds every writer off)
        assert writer.wait(timeout=60) == 0
        assert len(seen) >= 5 and len({s for s in seen if s}) >= 3  # it read while the writer went on
    finally:
        writer.kill()


def test_a_file_held_past_the_wait_names_its_holder(tmp_path, monkeypatch):
    db = tmp_path / "held.duckdb"
    store.connect(db).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(db)!r})
        print("ready", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        from comments.errors import DatabaseLockedError

        started = time.monotonic()
        with pytest.raises(DatabaseLockedError) as err, store.reading(db, wait=1.5):
            pass
        assert 1.5 <= time.monotonic() - started < 10
        assert f"process {holder.pid}" in str(err.value) and "COMMENTS_DB_WAIT" in str(err.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def _attachment_rows(con, docket: str) -> list[tuple]:
    return con.execute(
        """select a.comment_id, a.doc_order, a.status, a.reason, a.text, a.page_count, a.sha256
           from attachments a join comments c using (comment_id) where c.docket_id = ? order by 1, 2""",
        [docket],
    ).fetchall()


@pytest.mark.prefect
def test_extraction_on_a_dask_cluster_gives_what_the_in_process_run_gives(tmp_path, monkeypatch):
    from test_attachments import DOCKET, FileServer, detail, files_dir_for, text_pdf

    from comments.attachments import process_attachments
    from flows.attachments import fetch_attachments

    files = FileServer()
    try:
        files.files["/d/one.pdf"] = text_pdf("We support sharing provider directory data.", pages=2)
        files.files["/d/two.pdf"] = text_pdf("We oppose the directory: it duplicates NPPES.", pages=3)
        files.files["/d/copy.pdf"] = files.files["/d/one.pdf"]           # same bytes, another URL
        files.files["/d/note.txt"] = b"A plain text attachment."
        comments = [
            detail("D-1", "see attached", [{"url": files.url + "/d/one.pdf", "format": "pdf"}]),
            detail("D-2", "see attached", [{"url": files.url + "/d/two.pdf", "format": "pdf"},
                                           {"url": files.url + "/d/note.txt", "format": "txt"}]),
            detail("D-3", "see attached", [{"url": files.url + "/d/copy.pdf", "format": "pdf"}]),
            detail("D-4", "see attached", [{"url": files.url + "/d/missing.pdf", "format": "pdf"}]),
            detail("D-5", "see attached", [{"url": "https://elsewhere.example/x.pdf", "format": "pdf"}]),
            detail("D-6", "see attached", [{"url": None, "format": "pdf", "restrict": "Copyright"}]),
        ]
        dbs = {}
        for name in ("here", "dask"):
            dbs[name] = tmp_path / name / "c.duckdb"
            con = store.connect(dbs[name])
            records.save_comments(con, comments)
            con.close()
        con = store.connect(dbs["here"])
        process_attachments(con, DOCKET, files_dir=files_dir_for(dbs["here"]), hosts=("127.0.0.1",),
                            max_bytes=100_000, workers=1, pace_s=0)
        con.close()
        files.hits.clear()
        monkeypatch.setenv("COMMENTS_ATTACHMENT_HOSTS", "127.0.0.1")  # read by the Dask workers too
        counts = fetch_attachments(DOCKET, db=str(dbs["dask"]), dask=True, dask_workers=2, batch_files=2)
        with store.reading(dbs["here"]) as a, store.reading(dbs["dask"]) as b:
            here, on_dask = _attachment_rows(a, DOCKET), _attachment_rows(b, DOCKET)
        assert on_dask == here
        by_id = {(r[0], r[1]): r for r in on_dask}
        assert by_id[("D-2", 1)][2:6] == ("ok", None, by_id[("D-2", 1)][4], 3) and "NPPES" in by_id[("D-2", 1)][4]
        assert by_id[("D-3", 1)][6] == by_id[("D-1", 1)][6]  # one file, stored once
        assert counts["processed"] == 7 and counts["ok"] == 4 and counts["failed"] == 2 and counts["restricted"] == 1
        assert counts["downloaded"] == 4 and files.hits.get("/d/one.pdf") == 1
    finally:
        files.close()


def test_the_per_file_time_limit_holds_on_a_dask_worker(tmp_path):
    """Extraction in a Dask worker still kills a file that hangs its parser; a daemonic worker says what to set."""
    import dask
    from distributed import Client, LocalCluster
    from test_attachments import slow_or_real_extract

    from comments.attachments import pipeline
    from comments.attachments.filestore import FileStore
    from comments.errors import ConfigError

    files = FileStore(tmp_path / "files")
    rows = []
    for order, content in enumerate((b"HANG this parser forever", b"The next file is still read."), start=1):
        sha, _ = files.put_bytes(content)
        rows.append({"comment_id": "H-1", "doc_order": order, "format": "txt", "sha256": sha, "downloaded_at": None})
    with dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        started = time.monotonic()
        job = functools.partial(pipeline.extract_batch, workers=1, time_limit=1.0, extract_fn=slow_or_real_extract)
        out = client.submit(job, rows, {}, str(tmp_path / "files")).result(timeout=120)
        assert time.monotonic() - started < 60
    by_order = {r["doc_order"]: r for r in out}
    assert (by_order[1]["status"], by_order[1]["reason"]) == ("failed", "timed out after 1 s")
    assert by_order[2]["status"] == "ok" and by_order[2]["text"] == "The next file is still read."
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with pytest.raises(ConfigError, match="DASK_DISTRIBUTED__WORKER__DAEMON=False"):
            client.submit(pipeline.extract_batch, rows[1:], {}, str(tmp_path / "files")).result(timeout=120)


@pytest.mark.prefect
def test_status_answers_while_comments_sync_writes(replay, tmp_path, capsys):
    """The terminal `comments sync` holds the database only while it saves a page: `comments status`
    and other readers get in between, and see the sync's progress page by page."""
    from comments.cli import main

    snap = Snapshot.synthetic(1500)
    server = replay(snap, api_keys=("test-key",), faults=Faults(latency=0.01))
    db = tmp_path / "c.duckdb"
    env = {**os.environ, "REGULATIONS_GOV_API_KEY": "test-key", "REGULATIONS_GOV_BASE_URL": server.base_url,
           "REGULATIONS_GOV_RATE_LIMIT": "1000000", "PYTHONPATH": os.pathsep.join(sys.path), "COMMENTS_DB_WAIT": "60"}
    env.pop("PREFECT_API_URL", None)
    sync = subprocess.Popen([sys.executable, "-m", "comments.cli", "sync", snap.docket_id, "--db", str(db),
                             "--no-attachments"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, statuses = [], []
    try:
        while sync.poll() is None:
            if db.exists() and server.stats["comment_detail"]:
                with store.reading(db, wait=60) as con:
                    seen.append(con.execute("select count(*) from comments").fetchall()[0][0])
                if 0 < seen[-1] < len(snap) and not statuses:
                    statuses.append(main(["status", "--db", str(db)]))
            time.sleep(0.1)
        out = sync.stdout.read()
    finally:
        sync.kill()
    assert sync.returncode == 0, out
    assert any(0 < n < len(snap) for n in seen), seen    # read while the sync was writing
    assert seen == sorted(seen)                          # page by page, never backwards
    assert statuses == [0] and f"{snap.docket_id}" in capsys.readouterr().out


def test_status_tells_a_live_sync_run_from_a_dead_one_and_a_second_sync_waits_for_the_live(tmp_path):
    """Once writers share the file, being able to open it says nothing about a `running` run:
    its process does (host, pid and the pid's start time, so a reused pid is not taken for it)."""
    from comments.client import RegulationsClient
    from comments.commands.ingest import status_lines
    from comments.sync import DocketBusy, DocketSync, this_process

    db = tmp_path / "c.duckdb"
    me = this_process()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with closing(store.connect(db)) as con:
        records.save_comments(con, [{"data": {"id": f"{d}-0001", "type": "comments", "attributes": {
            "docketId": d, "comment": "x", "postedDate": "2025-01-02T00:00:00Z"}}} for d in ("LIVE-2025-0001", "DEAD-2025-0001")])
        for docket, pid, started in (("LIVE-2025-0001", me["pid"], me["pid_started"]), ("DEAD-2025-0001", gone.pid, me["pid_started"])):
            con.execute("insert into sync_runs (run_id, docket_id, started_at, status, host, pid, pid_started, heartbeat_at)"
                        " values (?, ?, now(), 'running', ?, ?, ?, now())", [docket, docket, me["host"], pid, started])
    with store.reading(db) as con:
        text = "\n".join(status_lines(con))
    assert f"running; 0 new, 0 updated, 0 failed, 0 requests (process {me['pid']} on {me['host']}" in text
    assert "failed; 0 new, 0 updated, 0 failed, 0 requests (interrupted: the process ended before the run finished)" in text

    client = RegulationsClient("k", base_url="http://127.0.0.1:9", max_retries=0)
    with closing(store.connect(db)) as con:
        with pytest.raises(DocketBusy, match=f"process {me['pid']}"):
            DocketSync(con, client, "LIVE-2025-0001").start()
        DocketSync(con, client, "DEAD-2025-0001").start()  # the dead run is closed, a new one starts
        rows = con.execute("select status, message from sync_runs where docket_id = 'DEAD-2025-0001' order by started_at").fetchall()
    assert rows[0] == ("failed", "interrupted: the process ended before the run finished") and rows[1][0] == "running"
