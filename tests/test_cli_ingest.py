"""`comments sync`, `status`, `demo`: one-line errors before any needless request; clean Prefect output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from comments import store
from comments.cli import main
from comments.client import RegulationsClient
from comments.commands.ingest import DOCKET_ID
from comments.replay import Faults, Snapshot
from comments.sync import sync_docket

KEY = "sk-Cli-Test-Key-9a8b7c6d5e4f"


@pytest.mark.parametrize(
    "docket_id", ["CMS-2022-0163", "EOIR-2020-0003", "FDA-2013-N-0500", "NOAA-NMFS-2021-0111", "ED-2023-OPE-0123", "FWS-R8-ES-2008-0058"]
)
def test_real_docket_ids_are_accepted(docket_id):
    assert DOCKET_ID.fullmatch(docket_id)


@pytest.mark.parametrize("bad", ["CMS", "cms 2022 0163", "CMS-2022", "../etc/passwd", "CMS-2022-0163;drop", "2022-0163"])
def test_malformed_docket_id_is_one_line_and_sends_nothing(bad, replay, api_env, tmp_path, capsys):
    server = api_env(replay(), key=KEY)
    assert main(["sync", bad, "--db", str(tmp_path / "c.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "docket id" in err
    assert server.stats.total == 0


def test_missing_key_says_which_variable_and_where(replay, api_env, monkeypatch, tmp_path, capsys):
    server = api_env(replay())
    monkeypatch.delenv("REGULATIONS_GOV_API_KEY")
    assert main(["sync", "CMS-2022-0163", "--db", str(tmp_path / "c.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "REGULATIONS_GOV_API_KEY" in err and "open.gsa.gov" in err
    assert err.count("\n") == 1
    assert server.stats.total == 0


def test_invalid_key_is_one_line_after_one_request(replay, api_env, tmp_path, capsys):
    server = api_env(replay(), key=KEY)  # the server only knows "test-key"
    assert main(["sync", "CMS-2022-0163", "--db", str(tmp_path / "c.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "API_KEY_INVALID" in err and err.count("\n") == 1
    assert KEY not in err
    assert server.stats.total == 1


def test_unknown_docket_is_one_line(replay, api_env, tmp_path, capsys):
    server = api_env(replay())
    assert main(["sync", "CMS-2099-0001", "--db", str(tmp_path / "c.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "CMS-2099-0001 does not exist" in err and err.count("\n") == 1
    assert server.stats.total == 1


def test_the_comments_summary_is_printed_before_the_attachments_start(replay, api_env, tmp_path, capsys, monkeypatch):
    """Attachments can take hours on a big docket: an interrupt there must not hide what the sync did."""
    from comments import runs

    api_env(replay(Snapshot.synthetic(40, docket_id="SYN-2024-0006", seed=6)))
    monkeypatch.setenv("COMMENTS_PREFECT", "off")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "fetch_attachments", interrupted)
    assert main(["sync", "SYN-2024-0006", "--db", str(tmp_path / "c.duckdb")]) != 0
    captured = capsys.readouterr()
    assert "SYN-2024-0006: complete; 40 of 40 listed comments stored" in captured.out


HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)"


def test_database_held_by_another_process(replay, api_env, tmp_path, capsys):
    server = api_env(replay())
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert main(["sync", "CMS-2022-0163", "--db", str(db)]) == 3
        err = capsys.readouterr().err
        assert "in use by another process" in err and err.count("\n") == 1
        assert server.stats.total == 0
    finally:
        holder.kill()
        holder.wait()


def test_status_reports_counts_errors_and_budget(replay, tmp_path, capsys):
    snap = Snapshot.synthetic(300, docket_id="SYN-2024-0005", seed=5)
    server = replay(snap, rate_limit_per_hour=5000, faults=Faults(failing_ids=frozenset({"SYN-2024-0005-00009"})))
    db = tmp_path / "c.duckdb"
    con = store.connect(db)
    client = RegulationsClient("test-key", server.base_url, 1000, sleep=lambda s: None, backoff_base=0.001, max_retries=1)
    sync_docket(con, client, "SYN-2024-0005")
    con.close()
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "SYN-2024-0005" in out
    assert "299 of 300 counted by regulations.gov" in out
    assert "300 listed: 299 stored, 1 failing, 0 not fetched yet" in out
    assert "failing     SYN-2024-0005-00009: HTTP 500" in out
    assert "complete except 1 failing; 299 new" in out
    assert "1 item failing" in out and "HTTP 500" in out
    # docket + documents + 2 list pages + 300 details + 1 retry of the failing id = 305 of 5,000
    assert "4,695 requests were left this hour" in out
    assert main(["status", "SYN-2099-0001", "--db", str(db)]) == 2
    assert "not in this database" in capsys.readouterr().err


def test_status_without_database_is_one_line(tmp_path, capsys):
    assert main(["status", "--db", str(tmp_path / "none.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no database") and err.count("\n") == 1


def _clean_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGULATIONS_GOV_", "COMMENTS_", "PREFECT_"))}
    env.update(extra)
    return env


def _assert_quiet(proc):
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "ERROR" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "CancelledError" not in output, output[-3000:]


# Both commands run in ONE process (Prefect's ~10 s start-up is paid once): the demo,
# then `comments sync` against a server holding the key, with a comment that always fails.
TWO_COMMANDS = r"""
import sys
from comments.cli import main
demo_db, sync_db = sys.argv[1], sys.argv[2]
print("demo exit", main(["demo", "--db", demo_db]), flush=True)
print("sync exit", main(["sync", "SYN-2024-0006", "--db", sync_db, "--no-attachments"]), flush=True)
"""


@pytest.mark.prefect
def test_demo_and_sync_run_the_flow_quietly_and_keep_the_key_secret(replay, tmp_path):
    snap = Snapshot.synthetic(300, docket_id="SYN-2024-0006", seed=6)
    server = replay(snap, api_keys=(KEY,), faults=Faults(failing_ids=frozenset({"SYN-2024-0006-00003"})))
    demo_db, sync_db = tmp_path / "demo.duckdb", tmp_path / "sync.duckdb"
    # Prefect's console lines are hidden by default in the CLI; show them here so the
    # test sees the flow runs and would see any ERROR line Prefect printed.
    env = _clean_env(
        tmp_path, REGULATIONS_GOV_API_KEY=KEY, REGULATIONS_GOV_BASE_URL=server.base_url, REGULATIONS_GOV_RATE_LIMIT="100000",
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="INFO",
        COMMENTS_PREFECT="on",  # the flows, on Prefect's local server (without it: the same stages, directly)
    )
    proc = subprocess.run(
        [sys.executable, "-c", TWO_COMMANDS, str(demo_db), str(sync_db)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    _assert_quiet(proc)
    out = proc.stdout
    assert "demo exit 0" in out and "sync exit 0" in out
    for flow_name in ("sync-docket", "analyze_docket", "brief_docket"):
        assert flow_name in proc.stderr  # the demo ran the real Prefect flows

    # the demo: its own server and key, the bundled real docket, into the given file
    assert "CMS-2022-0163: complete; 647 of 647 listed comments stored; 647 new" in out
    assert str(demo_db) in out
    con = store.connect(demo_db, read_only=True)
    assert con.execute("select count(*), count(distinct comment_id) from comments").fetchone() == (647, 647)
    assert con.execute("select status from sync_runs").fetchall() == [("complete",)]
    assert con.execute("select status from analysis_runs").fetchall() == [("complete",)]
    # the notice's own text, served by the demo's server like a file on downloads.regulations.gov
    assert con.execute("select document_id, status from document_texts").fetchall() == [("CMS-2022-0163-0001", "ok")]
    assert "demo: notice text: CMS-2022-0163-0001 ok (" in out
    con.close()
    briefing = demo_db.with_name(f"{demo_db.stem}-CMS-2022-0163.html")
    assert f"briefing: {briefing.resolve()}" in out and briefing.exists()
    # and it ends by saying how to open the explorer on what it built
    assert f"serve --db {demo_db}" in out.split("demo exit")[0].strip().splitlines()[-1]

    # the sync: one failing comment recorded, not fatal; the key nowhere
    assert "SYN-2024-0006: complete except 1 failing (ids in `comments status SYN-2024-0006`); 299 of 300 listed comments stored; 299 new, 0 updated, 1 failed" in out
    assert KEY not in proc.stdout + proc.stderr
    assert KEY.encode() not in sync_db.read_bytes()
    con = store.connect(sync_db, read_only=True)
    assert con.execute("select count(distinct comment_id) from comments").fetchone()[0] == 299
    assert con.execute("select item_id from sync_errors").fetchall() == [("SYN-2024-0006-00003",)]


@pytest.mark.parametrize("value", ["0", "abc"])
def test_bad_max_comments_is_a_usage_error_not_a_traceback(value, replay, api_env, tmp_path, capsys):
    server = api_env(replay())
    assert main(["sync", "CMS-2022-0163", "--max-comments", value, "--db", str(tmp_path / "c.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--max-comments'" in err and "Traceback" not in err
    assert server.stats.total == 0
