"""Tracking: the diff of constructed states, the watchlist file, and THE tracking test.

The end-to-end test: sync a docket from the local regulations.gov server, track
it, add comments there (a new form-letter campaign and two singletons), track
again: the "what changed" section reports exactly those changes.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from comments import changes, store
from comments import watchlist as watchlists
from comments.briefing import changes_file
from comments.errors import InputError
from comments.replay import Snapshot

# --------------------------------------------------------------------------- pure diff


def state(ids, campaigns=None, themes=None, stance=None, submissions=None):
    return {
        "docket_id": "TEST-2025-0003",
        "comments": len(ids),
        "submissions": submissions if submissions is not None else len(ids),
        "comment_ids": sorted(ids),
        "campaigns": campaigns or {},
        "themes": themes or {},
        "stance": stance or {},
    }


def camp(size, stance="oppose", excerpt="Stop the program"):
    return {"size": size, "submissions": size, "stance": stance, "excerpt": excerpt}


def theme(n, label="data sharing", uniq=None):
    return {"label": label, "comments": n, "unique_texts": uniq or n, "submissions": n, "catch_all": False}


def st(support, oppose, mixed=0, unclear=0, not_read=0):
    return {s: {"comments": n, "unique_texts": n, "submissions": n}
            for s, n in zip(changes.STANCES, (support, oppose, mixed, unclear, not_read), strict=True)}


def test_diff_reports_new_grown_gone_and_stance_shift():
    before = state(["a", "b", "c", "d"], campaigns={"C0001": camp(2), "C0002": camp(2)},
                   themes={"T001": theme(3), "T002": theme(1, "cost")}, stance=st(3, 1))
    after = state(["a", "b", "c", "d", "e", "f", "g", "h"],
                  campaigns={"C0001": camp(4), "C0003": camp(3, "support", "I <b>support</b> *this*")},
                  themes={"T001": theme(3), "T002": theme(2, "cost"), "T003": theme(3, "biometrics")},
                  stance=st(6, 2))
    ch = changes.diff_states(before, after)
    assert ch["first_run"] is False
    assert ch["new_comments"] == ["e", "f", "g", "h"] and ch["removed_comments"] == []
    assert [c["campaign_id"] for c in ch["new_campaigns"]] == ["C0003"]
    assert [(c["campaign_id"], c["added"]) for c in ch["grown_campaigns"]] == [("C0001", 2)]
    assert [c["campaign_id"] for c in ch["gone_campaigns"]] == ["C0002"]
    assert [t["theme_id"] for t in ch["new_themes"]] == ["T003"]
    assert [(t["theme_id"], t["added"]) for t in ch["grown_themes"]] == [("T002", 1)]
    assert ch["shrunk_themes"] == [] and ch["gone_themes"] == []
    support = ch["stance"]["by"]["comments"]["support"]
    assert (support["before"], support["after"], support["delta"]) == (3, 6, 3)
    assert (support["share_before"], support["share_after"], support["points"]) == (75.0, 75.0, 0.0)
    assert ch["stance"]["shifted"] == []
    md = changes_file.render_changes_markdown(ch, previous_run_at=datetime(2025, 3, 1), run_at=datetime(2025, 3, 8))
    assert "What changed since the last run (2025-03-01 00:00 UTC)" in md
    assert "4 new comments: posted comments 4 → 8" in md and all(f"comment/{c})" in md for c in "efgh")
    assert "**New campaign C0003**: 3 copies" in md and "**Campaign C0001 grew by 2**: 2 → 4 copies" in md
    assert "**New theme T003** “biometrics”: 3 comments" in md and "Theme T002 “cost” **grew by 1**: 1 → 2" in md
    assert "C0002 (2 copies) is no longer found" in md
    # Text from comments is escaped, never live HTML or Markdown.
    assert "<b>" not in md and "I \\<b\\>support\\</b\\> \\*this\\*" in md
    assert not re.search(r"(?<!\\)<", md)


def test_stance_shift_is_reported_past_the_threshold():
    ch = changes.diff_states(state(["a"] * 1, stance=st(8, 2)), state(["a"], stance=st(8, 8)))
    shifted = {(s["stance"], s["measure"]): s["points"] for s in ch["stance"]["shifted"]}
    assert shifted[("support", "comments")] == -30.0 and shifted[("oppose", "comments")] == 30.0
    assert changes.has_changes(ch)
    md = changes_file.render_changes_markdown(ch)
    assert "oppose by unique texts: 20.0% → 50.0% (+30.0 points; 2 → 8)." in md
    assert "| oppose | 2 → 8 | +6 | 50.0% (+30.0) | 2 → 8 | +6 | 50.0% (+30.0) |" in md


def test_a_stance_change_says_how_much_is_new_comments_and_how_much_earlier_ones_read_again():
    """Advocates read a shift as people arriving; an attachment read or a new stance method moves it too."""
    rules = {"method": "rules", "n_labels": 0, "codebook": None, "code_version": "0.3+a"}
    model = {"method": "model", "n_labels": 60, "codebook": None, "code_version": "0.3+a"}
    before = {**state(["a", "b", "c", "d"], stance=st(1, 1, unclear=1, not_read=1)),
              "comment_stance": "soun", "stance_method": rules}
    after = {**state(["a", "b", "c", "d", "e", "f", "g"], stance=st(2, 5)),
             "comment_stance": "soossoo", "stance_method": model}
    ch = changes.diff_states(before, after)
    src = ch["stance_sources"]
    assert src["known"] and src["new"] == {"support": 1, "oppose": 2} and src["removed"] == {}
    assert src["reclassified"] == 2
    assert src["transitions"] == [{"from": "unclear", "to": "oppose", "comments": 1},
                                  {"from": "not read", "to": "support", "comments": 1}]
    md = changes_file.render_changes_markdown(ch)
    assert ("By comments: 3 new comments (support 1, oppose 2); 2 earlier comments changed stance on re-analysis "
            "(unclear → oppose 1, not read → support 1). The stance method changed: rules → a model trained on "
            "60 analyst labels.") in md

    # Re-read only, nothing new: still a change worth reporting.
    reread = {**before, "comment_stance": "sooo", "stance": st(1, 3), "stance_method": rules}
    ch = changes.diff_states(before, reread)
    assert ch["new_comments"] == [] and changes.has_changes(ch)
    assert "By comments: 2 earlier comments changed stance on re-analysis (unclear → oppose 1, not read → oppose 1)." \
        in changes_file.render_changes_markdown(ch)

    # A snapshot from before per-comment stances were kept: said, not guessed.
    old = {k: v for k, v in before.items() if k not in ("comment_stance", "stance_method")}
    ch = changes.diff_states(old, after)
    assert not ch["stance_sources"]["known"]
    assert "is not known: the previous run kept no per-comment stances" in changes_file.render_changes_markdown(ch)


def test_no_change_and_first_run():
    s = state(["a", "b"], campaigns={"C0001": camp(2)}, themes={"T001": theme(2)}, stance=st(2, 0))
    same = changes.diff_states(s, copy.deepcopy(s))
    assert not changes.has_changes(same)
    assert "No changes since 2025-03-01 00:00 UTC" in changes_file.render_changes_markdown(same, previous_run_at=datetime(2025, 3, 1))
    first = changes.diff_states(None, s)
    assert first["first_run"] and [c["campaign_id"] for c in first["new_campaigns"]] == ["C0001"]
    assert "First tracked run: baseline recorded (2 comments posted)" in changes_file.render_changes_markdown(first)


def test_changes_file_lists_everything_the_briefing_cuts():
    """The file is the briefing's section uncut: every new comment, campaign and theme, with ids."""
    before = state([f"c{i:03d}" for i in range(5)], themes={f"T{i:03d}": theme(5, f"topic {i}") for i in range(12)})
    after = state([f"c{i:03d}" for i in range(40)],
                  campaigns={f"C{i:04d}": camp(2 + i, excerpt=f"letter {i}") for i in range(9)},
                  themes={f"T{i:03d}": theme(6 + i, f"topic {i}") for i in range(12)})
    md = changes_file.render_changes_markdown(changes.diff_states(before, after), previous_run_at=datetime(2025, 3, 1))
    assert all(f"comment/c{i:03d})" in md for i in range(5, 40))
    assert " more" not in md.replace("points or more", "")   # no "… and N more"
    assert all(f"**New campaign C{i:04d}**: {2 + i} copies" in md for i in range(9))
    assert all(f"Theme T{i:03d} “topic {i}” **grew by {1 + i}**" in md for i in range(12))


# --------------------------------------------------------------------------- watchlist


def test_watchlist_parsing(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text(
        '[settings]\ndb = "data/c.duckdb"\nout_dir = "out"\n'
        '[[docket]]\nid = "DHS-2025-0001"\n[[docket]]\nid = "CMS-2022-0163"\n'
        '[[search]]\nterm = "computer matching agreement"\nagency = "ssa"\nopen = true\n',
        encoding="utf-8",
    )
    wl = watchlists.load_watchlist(path)
    assert wl.dockets == ["DHS-2025-0001", "CMS-2022-0163"]
    assert wl.db == tmp_path / "data/c.duckdb" and wl.out_dir == tmp_path / "out"
    assert wl.searches == [watchlists.SearchEntry("computer matching agreement", "SSA", True, False, 25)]


@pytest.mark.parametrize("text, message", [
    ("[[docket]]\nid = '../../etc'\n", "needs an id"),
    ("[[docket]\nid = 'X'\n", "not valid TOML"),
    ("[[search]]\nagency = 'DHS'\n", "needs a term"),
    ("[settings]\ndb = 'x'\n", "nothing to track"),
    ("[dockets]\nid = 'X'\n", "unknown section"),
])
def test_bad_watchlists_are_user_errors(tmp_path, text, message):
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        watchlists.load_watchlist(path)


def test_missing_watchlist_is_one_line(tmp_path, capsys):
    from comments.cli import main

    assert main(["track", "--watchlist", str(tmp_path / "none.toml")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: no watchlist") and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- end to end

DOCKET = "CMS-2022-0163"
FORM_LETTER = (
    "I am writing to oppose the plan to share the National Directory data with immigration enforcement and other "
    "agencies under a new system of records. Patients will stop seeking care if they fear that their provider's "
    "directory entry and their own visits can be matched against enforcement databases. The notice does not say "
    "which agencies will receive the data, how long it will be kept, or how errors can be corrected. CMS must "
    "withdraw the routine uses that allow this sharing and publish a privacy impact assessment before going ahead."
)


def _small_snapshot(bundled: Snapshot, campaign_copies: int = 10, others_n: int = 35) -> Snapshot:
    """The bundled docket cut to comments without attachments: 10 of its real campaign, 35 others."""
    snap = Snapshot()
    for detail in bundled.dockets.values():
        snap.add_docket(copy.deepcopy(detail))
    for detail in bundled.documents.values():
        snap.add_document(copy.deepcopy(detail))
    campaign, others = [], []
    for cid in bundled.comment_ids():
        d = copy.deepcopy(bundled.comment_detail(cid))
        a = d["data"]["attributes"]
        if d.get("included") or (d["data"].get("relationships") or {}).get("attachments", {}).get("data"):
            continue
        text = a.get("comment") or ""
        if "One piece of information that is often important" in text:
            campaign.append(d)
        elif len(text.split()) > 30:
            others.append(d)
    base = datetime(2022, 12, 1, tzinfo=UTC)
    for i, d in enumerate(campaign[:campaign_copies] + others[:others_n]):
        snap.add_comment(d, last_modified=base + timedelta(minutes=i))
    return snap


def _new_comment(n: int, text: str, when: datetime) -> dict:
    return {"data": {"id": f"{DOCKET}-9{n:03d}", "type": "comments", "attributes": {
        "docketId": DOCKET, "commentOnDocumentId": f"{DOCKET}-0001", "agencyId": "CMS",
        "documentType": "Public Submission", "comment": text, "title": "Comment on CMS-2022-0163-0001",
        "postedDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "receiveDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "firstName": "Pat", "lastName": f"Quill{n}", "category": "Individual", "duplicateComments": 0}}}


def _campaign_members(con, campaign_id):
    return {r[0] for r in con.execute(
        "select comment_id from campaign_members where docket_id = ? and campaign_id = ?", [DOCKET, campaign_id]
    ).fetchall()}


def _db_state(db):
    con = store.connect(db)
    try:
        camps = dict(con.execute("select campaign_id, size from campaigns where docket_id = ?", [DOCKET]).fetchall())
        themes = dict(con.execute("select theme_id, comments from themes where docket_id = ?", [DOCKET]).fetchall())
        stance = dict(con.execute(
            "select stance, count(*) from comment_analysis where docket_id = ? group by stance", [DOCKET]).fetchall())
        return camps, themes, stance
    finally:
        con.close()


def test_track_reports_exactly_what_was_added(bundled_snapshot, replay, api_env, tmp_path):
    snap = _small_snapshot(bundled_snapshot)
    server = api_env(replay(snap))
    db = tmp_path / "t.duckdb"
    out = tmp_path / "briefings"
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(f'[settings]\ndb = "t.duckdb"\nout_dir = "briefings"\n[[docket]]\nid = "{DOCKET}"\n')
    wl = watchlists.load_watchlist(watchlist)

    watchlists.sync_step(db, DOCKET)                      # sync
    first = watchlists.run_watchlist(wl)                  # track
    assert first.failed == [], first.summary()
    assert first.dockets[0].changes["first_run"]
    assert (out / f"{DOCKET}.changes.md").is_file() and (out / f"{DOCKET}.html").is_file()
    assert "First tracked run: baseline recorded" in (out / f"{DOCKET}.html").read_text(encoding="utf-8")
    assert "First tracked run: baseline recorded" in (out / f"{DOCKET}.changes.md").read_text(encoding="utf-8")
    camps_before, themes_before, stance_before = _db_state(db)
    assert len(camps_before) >= 1  # the real campaign, 10 copies

    # Add on the server: 6 copies of a new form letter (2 personalised), and 2 unrelated singletons.
    now = datetime.now(UTC).replace(microsecond=0)
    new_ids = []
    for n in range(1, 7):
        text = FORM_LETTER
        if n == 5:
            text = "Dear CMS, as a nurse in a border county I see this fear every week. " + FORM_LETTER
        if n == 6:
            text = FORM_LETTER + " My own family has skipped appointments because of this kind of fear."
        new_ids.append(snap.add_comment(_new_comment(n, text, now), last_modified=now + timedelta(seconds=n)))
    new_ids.append(snap.add_comment(_new_comment(7, "Provider directories should list which languages each office "
                                                 "speaks, and whether it has step-free access.", now),
                                    last_modified=now + timedelta(seconds=7)))
    new_ids.append(snap.add_comment(_new_comment(8, "Please keep the directory free of charge for small rural clinics "
                                                 "that cannot afford another subscription.", now),
                                    last_modified=now + timedelta(seconds=8)))

    # And 2 more exact copies of the docket's real campaign (it must grow by exactly 2).
    con = store.connect(db)
    old_campaign, template_text = con.execute(
        "select campaign_id, c.text from campaigns k join comments c on c.comment_id = k.template_comment_id "
        "where k.docket_id = ? order by k.size desc limit 1", [DOCKET]).fetchone()
    con.close()
    for n in (9, 10):
        new_ids.append(snap.add_comment(_new_comment(n, template_text, now), last_modified=now + timedelta(seconds=n)))

    second = watchlists.run_watchlist(wl)                 # track again
    assert second.failed == [], second.summary()
    ch = second.dockets[0].changes
    md = (out / f"{DOCKET}.changes.md").read_text(encoding="utf-8")
    assert md == ch["markdown"]
    camps_after, themes_after, stance_after = _db_state(db)

    # Exactly the 10 new comments.
    snapshot_row = ch["diff"]
    assert snapshot_row["new_comments"] == sorted(new_ids)
    assert snapshot_row["removed_comments"] == []
    assert "10 new comments" in md and all(c in md for c in new_ids)
    # Exactly one new campaign: the 6 form letters; the old campaign did not change.
    assert len(ch["new_campaigns"]) == 1
    new_campaign = ch["new_campaigns"][0]
    con = store.connect(db)
    assert _campaign_members(con, new_campaign) == set(new_ids[:6])
    con.close()
    assert set(camps_after) - set(camps_before) == {new_campaign}
    assert {c: camps_after[c] - camps_before[c] for c in camps_before} == {
        c: (2 if c == old_campaign else 0) for c in camps_before}
    assert ch["grown_campaigns"] == [old_campaign]
    assert _campaign_members(con := store.connect(db), old_campaign) >= set(new_ids[8:])
    con.close()
    assert f"Campaign {old_campaign} grew by 2**: {camps_before[old_campaign]} → {camps_after[old_campaign]} copies" in md
    assert f"New campaign {new_campaign}**: 6 copies" in md
    # Themes and stance: the section says what SQL says changed.
    grown = {t for t in themes_before if t in themes_after and themes_after[t] > themes_before[t]}
    assert set(ch["grown_themes"]) == grown
    assert set(ch["new_themes"]) == set(themes_after) - set(themes_before)
    assert sum(stance_after.values()) - sum(stance_before.values()) == 10
    # Unique texts: one new campaign (counted once) and two singletons.
    assert sum(snapshot_row["stance"]["by"]["unique_texts"][s]["delta"] for s in changes.STANCES) == 3
    for s in changes.STANCES:
        assert snapshot_row["stance"]["by"]["comments"][s]["delta"] == stance_after.get(s, 0) - stance_before.get(s, 0)
    # Private names never reach the section (the new letters are signed by "Pat Quill<n>").
    assert not re.search(r"Quill\d", md)
    assert server.stats["comment_detail"] == 45 + 10   # each comment fetched once
    # The briefing opens with the same changes, its numbers those of the diff.
    page = (out / f"{DOCKET}.html").read_text(encoding="utf-8")
    opening = page[page.index('<section id="changes"'):page.index('<section id="headline"')]

    def metric(key):
        return [int(v) for v in re.findall(rf'data-metric="{re.escape(key)}" data-value="(-?\d+)"', opening)]

    assert metric("changes_new_comments") == [10]
    assert metric(f"changes_campaign_{new_campaign}_size") == [6]
    assert metric(f"changes_campaign_{old_campaign}_added") == [2]
    for s in changes.STANCES:
        key = s.replace(" ", "_")  # 'not read' -> not_read in keys
        assert metric(f"changes_stance_{key}_submissions_delta") == [snapshot_row["stance"]["by"]["submissions"][s]["delta"]]
    assert all(metric(f"changes_theme_{t}_added") for t in ch["grown_themes"])
    assert not re.search(r"Quill\d", page)

    third = watchlists.run_watchlist(wl)                  # nothing new
    assert "No changes" in third.dockets[0].changes["markdown"]
    con = store.connect(db)
    kept = [json.loads(r[0]) for r in con.execute(
        "select state from tracking_snapshots where docket_id = ? order by run_at", [DOCKET]).fetchall()]
    con.close()
    assert [("comment_ids" in k) for k in kept] == [False, False, True]   # ids only in the latest
    assert [k["comments"] for k in kept] == [45, 55, 55]


# --------------------------------------------------------------------------- Prefect deployment smoke test


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, timeout: float, what: str, procs=()):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{what}: process exited early with {p.returncode}")
        try:
            result = check()
            if result:
                return result
        except Exception:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _stop(proc) -> None:
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.mark.prefect
def test_served_deployment_runs_against_a_local_prefect_server(bundled_snapshot, replay, tmp_path):
    import os
    import subprocess
    import sys

    import psutil
    import requests

    server = replay(_small_snapshot(bundled_snapshot, campaign_copies=3, others_n=9))  # short run
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(f'[settings]\ndb = "t.duckdb"\nout_dir = "briefings"\n[[docket]]\nid = "{DOCKET}"\n')

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "REGULATIONS_GOV_API_KEY": "test-key",
        "REGULATIONS_GOV_BASE_URL": server.base_url,
        "REGULATIONS_GOV_RATE_LIMIT": "1000000",
    }
    env.pop("PREFECT_PROFILE", None)
    bin_dir = os.path.dirname(sys.executable)
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    import prefect_template

    prefect_template.seed(tmp_path / "prefect-home" / "prefect.db")  # migrated: the server starts in 9 s, not 22 s
    try:
        prefect_server = subprocess.Popen(
            [os.path.join(bin_dir, "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
             "--no-ui", "--analytics-off", "--no-services"],
            env={k: v for k, v in env.items() if k != "PREFECT_API_URL"},
            stdout=open(logs / "server.log", "wb"), stderr=subprocess.STDOUT, cwd=tmp_path,
        )
        procs.append(prefect_server)
        _wait_for(lambda: requests.get(f"{api}/health", timeout=2).ok, 90, "the Prefect server", procs)
        # With a server, the key's requests take slots of its shared rate limit (flows/limits.py),
        # taken strictly: without `comments keys setup` the run fails (the first run below).
        setup = [sys.executable, "-m", "comments.cli", "keys", "setup"]

        serving = subprocess.Popen(
            [sys.executable, "-m", "comments.cli", "track", "--serve", "--watchlist", str(watchlist)],
            env=env, stdout=open(logs / "serve.log", "wb"), stderr=subprocess.STDOUT, cwd=tmp_path,
        )
        procs.append(serving)

        def deployment():
            r = requests.get(f"{api}/deployments/name/track/daily-watchlist", timeout=2)
            return r.json() if r.ok else None

        dep = _wait_for(deployment, 60, "the served deployment", procs)
        crons = [s["schedule"].get("cron") for s in dep.get("schedules", [])]
        assert crons == ["0 6 * * *"]   # daily by default
        assert dep["parameters"]["watchlist"] == str(watchlist.resolve())

        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}):
            refused = run_deployment("track/daily-watchlist", timeout=150)
            assert refused.state.is_failed() and "run `comments keys setup`" in refused.state.message
            done = subprocess.run(setup, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0 and "test-key" not in done.stdout + done.stderr, done.stderr
            run = run_deployment("track/daily-watchlist", timeout=150)
        serve_log = (logs / "serve.log").read_text(errors="replace")
        assert run.state.is_completed(), f"{run.state!r}\n{serve_log[-3000:]}"
        changes = tmp_path / "briefings" / f"{DOCKET}.changes.md"
        assert changes.is_file() and "First tracked run: baseline recorded" in changes.read_text(encoding="utf-8")
        # the flow hands the run's changes to the briefing, which opens with them
        assert "First tracked run: baseline recorded" in (tmp_path / "briefings" / f"{DOCKET}.html").read_text(encoding="utf-8")
        assert "Traceback" not in serve_log, serve_log[-3000:]
        # The flow published its artifacts to the server.
        arts = requests.post(f"{api}/artifacts/filter", json={}, timeout=5).json()
        assert {a["key"] for a in arts} >= {"tracking-summary", "changes-cms-2022-0163"}

        # A flow run the command started ends with the command, even when it is killed.
        with temporary_settings(updates={PREFECT_API_URL: api}):
            run_deployment("track/daily-watchlist", timeout=0)
        runs = _wait_for(lambda: [p for p in psutil.Process(serving.pid).children() if "spawn_main" in " ".join(p.cmdline())],
                         60, "the flow-run process", procs)
        serving.kill()
        serving.wait(timeout=10)
        # the kernel (PR_SET_PDEATHSIG) or, for a child still starting, its first import of `comments`
        # ends it; a fresh interpreter can take seconds to get there on a loaded machine
        gone, alive = psutil.wait_procs(runs, timeout=20)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        for proc in reversed(procs):
            _stop(proc)
