"""Hangs, signals and leftovers (issue 12, items 5, 6 and 10).

- A download has a total deadline: a server that drips bytes (or headers) ends
  as a recorded failure with its reason, never a hung run.
- SIGINT and SIGTERM stop a command within seconds with one line and 130/143,
  leaving rows the next run picks up; a long DuckDB query is interrupted too.
- After SIGKILL no process of ours is left: not Prefect's local server, not an
  extraction worker, not a tool a worker started.
- An error raised inside a stage (a database taken between the check and the
  stage, a key refused among several, a bad setting read by a stage) is one
  line on stderr, with or without Prefect.

Every server here is a loopback server of the test's own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from comments import records, settings, store
from comments.attachments import files_dir_for, process_attachments
from comments.attachments.pool import TimedPool
from comments.errors import ConfigError
from comments.interrupts import message as interrupted_line

DOCKET = "HANG-2024-0001"
# How long a signalled command may take to end: "within a few seconds".
STOP_S = 10


class HostileFileServer:
    """/ok/NAME answers at once; /drip/NAME sends its 1,000-byte body one byte per `interval` seconds,
    /drip-close/NAME the same without Content-Length, /drip-headers/NAME its status line and headers."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.paths: list[str] = []
        self.dripping = threading.Event()
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.paths.append(self.path)
                if self.path.startswith("/ok/"):
                    body = b"Plain words from a letter."
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                outer.dripping.set()
                if self.path.startswith("/drip-headers/"):
                    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    if self.path.startswith("/drip-close/"):
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.flush()
                    raw = b"x" * 1000
                for n in range(len(raw)):
                    if outer._stop.wait(outer.interval):
                        return
                    try:
                        self.wfile.write(raw[n : n + 1])
                        self.wfile.flush()
                    except OSError:
                        return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    servers: list[HostileFileServer] = []

    def start(interval: float = 5.0) -> HostileFileServer:
        servers.append(HostileFileServer(interval))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def comment(comment_id: str, url: str) -> dict:
    """A v4 comment detail with one attachment file at `url`."""
    att = f"{comment_id}-att1"
    return {
        "data": {
            "id": comment_id,
            "type": "comments",
            "attributes": {"docketId": DOCKET, "comment": "See attached file(s)", "postedDate": "2024-03-01T05:00:00Z",
                           "modifyDate": "2024-03-02T05:00:00Z"},
            "relationships": {"attachments": {"data": [{"id": att, "type": "attachments"}]}},
        },
        "included": [{"id": att, "type": "attachments", "attributes": {
            "title": "Letter", "docOrder": 1, "fileFormats": [{"fileUrl": url, "format": "txt", "size": 1000}]}}],
    }


def make_db(path, urls: dict[str, str]) -> None:
    con = store.connect(path)
    records.save_comments(con, [comment(cid, url) for cid, url in urls.items()])
    con.close()


def statuses(path) -> dict[str, tuple[str, str | None]]:
    con = store.connect(path, read_only=True)
    try:
        return {cid: (status, reason) for cid, status, reason in con.execute(
            "select comment_id, status, reason from attachments order by 1").fetchall()}
    finally:
        con.close()


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a user with none of our settings (PREFECT_HOME kept: one Prefect database per checkout)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGULATIONS_GOV_", "COMMENTS_", "PREFECT_")) or k == "PREFECT_HOME"}
    env["COMMENTS_ATTACHMENT_HOSTS"] = "127.0.0.1"
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "comments.cli", *args]


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


# --------------------------------------------------------------------------- the deadline


@pytest.mark.parametrize("kind", ["drip", "drip-close", "drip-headers"])
def test_a_file_that_arrives_a_byte_at_a_time_fails_at_the_deadline_and_the_run_goes_on(kind, hostile, tmp_path):
    server = hostile(interval=0.2)  # each read gets a byte well within any per-read timeout
    db = tmp_path / "c.duckdb"
    make_db(db, {"D-1": f"{server.url}/ok/a.txt", "D-2": f"{server.url}/{kind}/b.txt"})
    con = store.connect(db)
    counts = process_attachments(
        con, DOCKET, files_dir=files_dir_for(db), hosts=("127.0.0.1",), workers=1, pace_s=0, backoff_base=0.001,
        download_deadline_s=1.5,
    )
    con.close()
    assert statuses(db) == {"D-1": ("ok", None), "D-2": ("failed", "timed out after 1.5 s")}
    assert counts["ok"] == 1 and counts["failed"] == 1
    assert server.paths.count(f"/{kind}/b.txt") == 1  # a deadline is final for this run: no retry
    assert not any(files_dir_for(db).rglob("*.partial"))  # nothing half-written is kept


def test_the_deadline_setting_has_a_default_and_refuses_nonsense_in_one_line(hostile, tmp_path):
    assert settings.attachment_timeout({}) == settings.DEFAULT_ATTACHMENT_TIMEOUT_S == 120
    assert settings.attachment_timeout({"COMMENTS_ATTACHMENT_TIMEOUT": "2.5"}) == 2.5
    for bad in ("abc", "0", "-1", "nan", "inf"):
        with pytest.raises(ConfigError, match="COMMENTS_ATTACHMENT_TIMEOUT must be a positive number of seconds"):
            settings.attachment_timeout({"COMMENTS_ATTACHMENT_TIMEOUT": bad})
    server = hostile()
    db = tmp_path / "c.duckdb"
    make_db(db, {"S-1": f"{server.url}/ok/a.txt"})
    proc = subprocess.run(cli("attachments", DOCKET, "--db", str(db)), env=cli_env(COMMENTS_ATTACHMENT_TIMEOUT="soon"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: COMMENTS_ATTACHMENT_TIMEOUT must be a positive number of seconds, got 'soon'"]
    assert statuses(db) == {"S-1": ("pending", None)}


# --------------------------------------------------------------------------- SIGINT and SIGTERM


@pytest.mark.parametrize(
    ("mode", "sig"),
    [
        ("off", signal.SIGINT),
        ("off", signal.SIGTERM),
        pytest.param("on", signal.SIGTERM, marks=pytest.mark.prefect),
    ],
)
def test_a_signal_stops_a_hung_download_at_once_and_the_next_run_finishes_it(mode, sig, hostile, tmp_path):
    server = hostile(interval=5.0)  # the probe's server: one byte every five seconds
    db = tmp_path / "c.duckdb"
    make_db(db, {"H-1": f"{server.url}/ok/a.txt", "H-2": f"{server.url}/drip/b.txt"})
    env = cli_env(COMMENTS_ATTACHMENT_TIMEOUT="600", COMMENTS_PREFECT=mode)
    proc = subprocess.Popen(cli("attachments", DOCKET, "--db", str(db)), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.dripping.wait(180), "the command never reached the dripping file"
        time.sleep(0.5)  # the download is now blocked in a read
        children = descendants(proc.pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=STOP_S)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig
    assert err.splitlines() == [interrupted_line(sig)]
    assert out == ""
    _, alive = psutil.wait_procs(children, timeout=STOP_S)
    assert not alive, [cmdline(p) for p in alive]
    # Nothing was recorded half-done: both rows wait for the next run.
    assert statuses(db) == {"H-1": ("pending", None), "H-2": ("pending", None)}

    again = subprocess.run(cli("attachments", DOCKET, "--db", str(db)),
                           env=cli_env(COMMENTS_ATTACHMENT_TIMEOUT="1"), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert statuses(db) == {"H-1": ("ok", None), "H-2": ("failed", "timed out after 1 s")}
    assert "1 ok, 1 failed" in again.stdout


LONG_QUERY = r"""
import sys
from comments import interrupts, store
con = store.connect(sys.argv[1])
try:
    with interrupts.handling():
        print("ready", flush=True)
        con.execute("select count(*) from range(1000000000000) t(i) where i % 7 = 3").fetchall()
except BaseException as exc:
    print("stopped by signal", interrupts.received(), flush=True)  # DuckDB raises its own error type
    con.execute("create table after_interrupt as select 1 as ok")  # the connection still works
con.close()
"""


def test_ctrl_c_interrupts_a_long_duckdb_query(tmp_path):
    # Python runs signal handlers between bytecodes only: without help, this query holds Ctrl-C off for minutes.
    db = tmp_path / "q.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", LONG_QUERY, str(db)], stdout=subprocess.PIPE, text=True, env=cli_env())
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=STOP_S)
    finally:
        proc.kill()
    assert out.splitlines()[0] == f"stopped by signal {int(signal.SIGINT)}"
    con = store.connect(db, read_only=True)
    assert con.execute("select ok from after_interrupt").fetchall() == [(1,)]
    con.close()


# --------------------------------------------------------------------------- SIGKILL


@pytest.mark.prefect
def test_sigkill_of_a_command_leaves_no_process_behind(hostile, tmp_path):
    server = hostile(interval=5.0)
    db = tmp_path / "c.duckdb"
    make_db(db, {"K-1": f"{server.url}/drip/a.txt"})
    proc = subprocess.Popen(cli("attachments", DOCKET, "--db", str(db)), env=cli_env(COMMENTS_PREFECT="on"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert server.dripping.wait(180), "the command never reached the dripping file"
        children = descendants(proc.pid)
        assert any("uvicorn" in cmdline(p) for p in children), [cmdline(p) for p in children]  # Prefect's local server
        proc.kill()
        proc.wait(STOP_S)
    finally:
        proc.kill()
    _, alive = psutil.wait_procs(children, timeout=STOP_S)
    assert not alive, [cmdline(p) for p in alive]
    assert statuses(db) == {"K-1": ("pending", None)}  # the next run retries it


POOL_WITH_TOOLS = r"""
import subprocess
from comments.attachments.pool import TimedPool
with TimedPool(subprocess.call, workers=2, time_limit=600) as pool:
    for _ in pool.run([(n, (["sleep", "600"],)) for n in range(2)]):
        pass
"""


def test_sigkill_ends_extraction_workers_and_the_tools_they_started(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", POOL_WITH_TOOLS], env=cli_env())
    try:
        deadline = time.monotonic() + 60
        while sum(cmdline(p) == "sleep 600" for p in descendants(proc.pid)) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "the workers never started their tools"
            time.sleep(0.1)
        children = descendants(proc.pid)
        proc.kill()
        proc.wait(STOP_S)
    finally:
        proc.kill()
    _, alive = psutil.wait_procs(children, timeout=STOP_S)
    assert not alive, [cmdline(p) for p in alive]


def test_a_worker_over_its_time_limit_is_killed_with_the_tools_it_started():
    with TimedPool(subprocess.call, workers=1, time_limit=1.0) as pool:
        results = list(pool.run([("job", (["sleep", "600"],))]))
        worker_pids = [w.process.pid for w in pool._workers]
    assert results == [("job", {"status": "failed", "reason": "timed out after 1 s"})]
    assert worker_pids == []  # replaced lazily: nothing left running
    me = psutil.Process()
    assert not [p for p in me.children(recursive=True) if cmdline(p) == "sleep 600"]


# --------------------------------------------------------------------------- one line, whatever the stage

BULK_CSV = Path(__file__).parent / "data" / "CMS-2025-0050-0031.bulk.csv"
HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)"

# Several commands in ONE process (with Prefect, its local server starts once): each one's
# stderr is captured at the file descriptor, so Prefect's own lines would be counted too.
COMMANDS = r"""
import json, os, sys, tempfile
from comments.cli import main

for argv, env in json.loads(sys.argv[1]):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    with tempfile.TemporaryFile() as f:
        sys.stderr.flush()
        fd = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            code = main(argv)
        finally:
            sys.stderr.flush()
            os.dup2(fd, 2)
            os.close(fd)
        f.seek(0)
        err = f.read().decode()
    for k, v in saved.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    print(json.dumps({"argv": argv, "code": code, "err": err}), flush=True)
"""


@pytest.mark.parametrize("mode", ["off", pytest.param("on", marks=pytest.mark.prefect)])
def test_an_error_inside_any_stage_is_one_line(mode, replay, hostile, tmp_path):
    api = replay()  # knows the key "test-key" only
    files = hostile()
    locked, synced, attached = tmp_path / "locked.duckdb", tmp_path / "synced.duckdb", tmp_path / "attached.duckdb"
    make_db(attached, {"E-1": f"{files.url}/ok/a.txt"})
    commands = [
        # 1. the database is free when checked, then taken before the import stage opens it
        (["import", "bulk-csv", str(BULK_CSV), "--db", str(locked)], {}),
        # 2. two keys, the second refused: the docket check passes with the first, a later stage gets the refusal
        (["sync", "CMS-2022-0163", "--db", str(synced), "--no-attachments"],
         {"REGULATIONS_GOV_API_KEY": "test-key,sk-refused-key", "REGULATIONS_GOV_BASE_URL": api.base_url}),
        # 3. a setting first read by the attachment stage
        (["attachments", DOCKET, "--db", str(attached)], {"COMMENTS_ATTACHMENT_MAX_BYTES": "abc"}),
    ]
    def hold() -> subprocess.Popen:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(locked)], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "ready"
        return holder

    # Without Prefect the check and the stage are moments apart: the database is taken first (the
    # check refuses it). With Prefect it is taken once the command has checked it and is starting
    # Prefect's local server, so the refusal comes from inside the flow run.
    holder = hold() if mode == "off" else None
    proc = subprocess.Popen([sys.executable, "-c", COMMANDS, json.dumps(commands)], env=cli_env(COMMENTS_PREFECT=mode, COMMENTS_DB_WAIT="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if holder is None:
            deadline = time.monotonic() + 120
            while not any("uvicorn" in cmdline(p) for p in descendants(proc.pid)):
                assert time.monotonic() < deadline and proc.poll() is None, "Prefect's server never started"
                time.sleep(0.05)
            holder = hold()
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
        if holder:
            holder.kill()
            holder.wait()
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(results) == 3, err[-3000:]
    lock, key, setting = results
    assert lock["code"] == 3
    assert lock["err"].count("\n") == 1 and lock["err"].startswith(f"error: database {locked} is in use by another process")
    assert key["code"] == 2
    assert key["err"].count("\n") == 1 and key["err"].startswith("error: the API key was refused during the sync of CMS-2022-0163")
    assert "sk-refused-key" not in key["err"]
    assert setting["code"] == 2
    assert setting["err"] == "error: COMMENTS_ATTACHMENT_MAX_BYTES must be a whole number of bytes, got 'abc'\n"
    assert statuses(attached) == {"E-1": ("pending", None)}
