"""Direct runs and Prefect runs (issue 12, item 14): one set of stages, Prefect only when runs are recorded.

Without a Prefect API a command runs `comments.runs` directly and never
imports Prefect (whose throwaway local server cost 8-12 s per command); with
one (or COMMENTS_PREFECT=on) the flows in flows/ run the same stages.
The flows themselves are exercised by the tests marked `prefect`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import pytest

from comments import store
from comments.cli import main
from comments.commands import runner
from comments.errors import ConfigError
from comments.replay import Faults, Snapshot
from comments.resources import bundled_theme_audit
from comments.theme_audit import audit_figures


@pytest.fixture
def no_prefect_config(tmp_path, monkeypatch):
    """A user with no Prefect settings anywhere: no variables, no profiles, no prefect.toml."""
    for name in list(os.environ):
        if name.startswith("PREFECT_") or name == "COMMENTS_PREFECT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_prefect_runs_only_when_an_api_is_configured_or_asked_for(no_prefect_config, monkeypatch):
    home = no_prefect_config / "prefect-home"
    assert not runner.use_prefect()
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert runner.use_prefect()
    monkeypatch.setenv("COMMENTS_PREFECT", "off")
    assert not runner.use_prefect()
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("COMMENTS_PREFECT", "on")
    assert runner.use_prefect()
    monkeypatch.setenv("COMMENTS_PREFECT", "auto")
    assert not runner.use_prefect()

    # The API may also come from the active Prefect profile, or from ./prefect.toml.
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://prefect.internal:4200/api"\n[profiles.solo]\n'
    )
    assert runner.prefect_api_url() == "http://prefect.internal:4200/api" and runner.use_prefect()
    monkeypatch.setenv("PREFECT_PROFILE", "solo")
    assert runner.prefect_api_url() is None and not runner.use_prefect()
    (no_prefect_config / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:4201/api"\n')
    assert runner.prefect_api_url() == "http://127.0.0.1:4201/api"


def test_a_bad_prefect_mode_is_one_line(no_prefect_config, monkeypatch, capsys):
    monkeypatch.setenv("COMMENTS_PREFECT", "sometimes")
    with pytest.raises(ConfigError):
        runner.use_prefect()
    csv = no_prefect_config / "one.csv"
    csv.write_text("Document ID,Document Type,Docket ID\nX-2024-0001-0001,Public Submission,X-2024-0001\n")
    assert main(["import", "bulk-csv", str(csv), "--db", str(no_prefect_config / "c.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err == "error: COMMENTS_PREFECT must be one of auto, on, off, got 'sometimes'\n"


SYNC_THEN_REPORT = r"""
import json, sys
from comments.cli import main
code = main(["sync", "SYN-2024-0011", "--db", sys.argv[1]])
print(json.dumps({"code": code, "prefect": sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))}))
"""


def test_without_a_prefect_api_sync_runs_its_stages_directly_and_never_imports_prefect(replay, tmp_path):
    snap = Snapshot.synthetic(300, docket_id="SYN-2024-0011", seed=11)
    server = replay(snap, faults=Faults(failing_ids=frozenset({"SYN-2024-0011-00007"})))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGULATIONS_GOV_", "COMMENTS_", "PREFECT_"))}
    env |= {"REGULATIONS_GOV_API_KEY": "test-key", "REGULATIONS_GOV_BASE_URL": server.base_url,
            "REGULATIONS_GOV_RATE_LIMIT": "1000000", "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "COMMENTS_ATTACHMENT_HOSTS": "127.0.0.1"}  # the synthetic files are listed on another host: refused at once
    db = tmp_path / "c.duckdb"
    proc = subprocess.run([sys.executable, "-c", SYNC_THEN_REPORT, str(db)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert json.loads(lines[-1]) == {"code": 0, "prefect": []}
    assert lines[0].startswith("SYN-2024-0011: complete except 1 failing (ids in `comments status SYN-2024-0011`); 299 of 300 listed comments stored; 299 new, 0 updated, 1 failed")
    assert re.match(r"SYN-2024-0011: [\d,]+ attachment files in .* failed; downloaded 0 ", lines[1])  # the attachment stage ran
    con = store.connect(db, read_only=True)
    assert con.execute("select status from sync_runs").fetchall() == [("complete",)]
    assert con.execute("select item_id from sync_errors").fetchall() == [("SYN-2024-0011-00007",)]
    con.close()


def test_help_imports_neither_prefect_nor_duckdb():
    script = (
        "import sys\nfrom comments.cli import main\nmain(['--help'])\n"
        "print(sorted(m for m in ('prefect', 'duckdb', 'pyarrow') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout and proc.stdout.splitlines()[-1] == "[]"


def test_the_demo_runs_every_stage_without_prefect(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGULATIONS_GOV_", "COMMENTS_", "PREFECT_"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    db = tmp_path / "demo.duckdb"
    proc = subprocess.run([sys.executable, "-m", "comments.cli", "demo", "--db", str(db)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""  # no Prefect lines, no warnings
    assert "CMS-2022-0163: complete; 647 of 647 listed comments stored; 647 new" in proc.stdout
    briefing = db.with_name("demo-CMS-2022-0163.html")
    assert f"briefing: {briefing.resolve()}" in proc.stdout and briefing.is_file()
    assert not (tmp_path / "prefect-home").exists()  # Prefect was never started
    con = store.connect(db, read_only=True)
    assert con.execute("select status from sync_runs union all select status from analysis_runs").fetchall() == [
        ("complete",), ("complete",)]
    # the shipped theme audit still describes the themes this analysis finds: every row was stored,
    # each under its theme's current label, and each `member` row's text is in that theme (a change
    # to the themes must come with a new audit, or the briefing's theme precision is about other themes)
    audit = list(csv.DictReader(bundled_theme_audit().open(encoding="utf-8", newline="")))
    marked = [r for r in audit if r["belongs"]]
    assert f"themes: {len(marked)} audited texts of CMS-2022-0163 imported" in proc.stdout
    assert "no longer match" not in proc.stdout
    labels = dict(con.execute("select theme_id, label from themes").fetchall())
    members = set(con.execute("select theme_id, comment_id from comment_themes").fetchall())
    for r in audit:
        assert labels.get(r["theme_id"]) == r["theme_label"], r
        assert ((r["theme_id"], r["comment_id"]) in members) == (r["kind"] == "member"), r
    figures = audit_figures(con, "CMS-2022-0163")
    con.close()
    topic = [r for r in marked if r["kind"] == "member" and r["theme_label"] != "Other topics"]
    yes = sum(r["belongs"] == "yes" for r in topic)
    assert (figures["members"], figures["yes"]) == (len(topic), yes)
    html = briefing.read_text(encoding="utf-8")
    assert "Form letters, checked on this docket: 210 comments of 300+ characters open with the same 150 characters" in html
    assert f"Themes: precision {yes / len(topic):.2f} on {len(topic)} audited texts" in html
    for t in figures["themes"]:  # each theme's own audit beside its counts (the catch-all has no section)
        if not t["is_catch_all"]:
            assert f"Audited: {t['yes']} of {t['members']} sampled texts argue what this label says." in html


def test_track_without_prefect_reports_a_failed_docket_in_one_line(no_prefect_config, replay, api_env, capsys):
    server = api_env(replay())
    watchlist = no_prefect_config / "watchlist.toml"
    watchlist.write_text('[settings]\ndb = "t.duckdb"\nout_dir = "briefings"\n[[docket]]\nid = "CMS-2099-0001"\n')
    assert main(["track", "--watchlist", str(watchlist)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: tracked 0/1 dockets; CMS-2099-0001: FAILED (sync: HTTP 404")
    assert server.stats.total == 1  # the docket request, then nothing more for that docket
