"""Theme audit: a sample per theme to mark, its import, and the precision the briefing states."""

from __future__ import annotations

import csv
import re
import shutil

import briefing_fixture as fx
import pytest

from comments import store
from comments.briefing.data import gather
from comments.errors import InputError
from comments.theme_audit import audit_figures, import_audit, sample, write_audit

DOCKET = fx.DOCKET


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("audit") / "comments.duckdb")


@pytest.fixture
def db(analyzed, tmp_path):
    path = tmp_path / "audit.duckdb"
    shutil.copy(analyzed, path)
    return path


def test_audit_sample_import_and_precision_match_a_recount(db, tmp_path):
    con = store.connect(db)
    try:
        assert "not audited" in gather(con, DOCKET)["theme_audit"]["statement"]
        out = tmp_path / "audit.csv"
        n = write_audit(con, DOCKET, out, per_theme=3, near=1)
        rows = list(csv.DictReader(open(out, encoding="utf-8")))
        assert n == len(rows) > 0
        themes = dict(con.execute("select theme_id, label from themes where docket_id = ?", [DOCKET]).fetchall())
        members = {(r["theme_id"], r["comment_id"]) for r in rows if r["kind"] == "member"}
        held = set(con.execute(
            """select ct.theme_id, coalesce(k.template_comment_id, ct.comment_id) from comment_themes ct
               left join campaign_members m using (comment_id) left join campaigns k using (campaign_id)
               where ct.docket_id = ?""", [DOCKET]).fetchall())
        assert members <= held, "every member row is a text the theme counts"
        assert {r["theme_id"] for r in rows} == set(themes), "every theme is sampled"
        for r in rows:
            assert r["theme_label"] == themes[r["theme_id"]]
            if r["kind"] == "near":
                assert (r["theme_id"], r["comment_id"]) not in held
        # the analyst marks: alternate yes/no, one bad value, one unknown theme
        with open(out, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            for i, r in enumerate(rows):
                w.writerow({**r, "belongs": "yes" if i % 3 else "no"})
            w.writerow({**rows[0], "belongs": "maybe"})
            w.writerow({**rows[0], "theme_id": "T999", "belongs": "yes"})
        result = import_audit(con, out)
        assert len(result.errors) == 2 and "maybe" in result.errors[0] and "T999" in result.errors[1]
        assert re.search(r"audit.csv line \d+: ", result.errors[0])
        again = import_audit(con, out)
        assert again.saved == result.saved == len(rows)  # idempotent
        marked = [(r, "yes" if i % 3 else "no") for i, r in enumerate(rows)]
        catch_all = {t for (t,) in con.execute(
            "select theme_id from themes where docket_id = ? and is_catch_all", [DOCKET]).fetchall()}
        topic = [(r, v) for r, v in marked if r["kind"] == "member" and r["theme_id"] not in catch_all]
        fig = audit_figures(con, DOCKET)
        assert fig["members"] == len(topic)
        assert fig["precision"] == pytest.approx(sum(v == "yes" for _, v in topic) / len(topic))
        statement = gather(con, DOCKET)["theme_audit"]["statement"]
        assert f"precision {fig['precision']:.2f} on {len(topic)} audited texts" in statement
        assert statement in gather(con, DOCKET)["caveats"]
    finally:
        con.close()


def test_audit_refuses_bad_input_with_one_line(db, tmp_path):
    con = store.connect(db)
    try:
        with pytest.raises(InputError, match="no such file"):
            import_audit(con, tmp_path / "missing.csv")
        bad = tmp_path / "bad.csv"
        bad.write_text("theme,comment\nT001,x\n", encoding="utf-8")
        with pytest.raises(InputError, match="no theme_id and comment_id and belongs columns"):
            import_audit(con, bad)
        out = tmp_path / "a.csv"
        write_audit(con, DOCKET, out, per_theme=1, near=0)
        with pytest.raises(InputError, match="already exists"):
            write_audit(con, DOCKET, out, per_theme=1, near=0)
        with pytest.raises(InputError, match="no themes"):
            write_audit(con, "NOPE-0000-0000", tmp_path / "b.csv")
    finally:
        con.close()


def test_another_seed_draws_another_sample(db):
    con = store.connect(db)
    try:
        first = sample(con, DOCKET, per_theme=2, near=0)
        again = sample(con, DOCKET, per_theme=2, near=0)
        other = sample(con, DOCKET, per_theme=2, near=0, seed="second look")
        key = [(r["theme_id"], r["comment_id"]) for r in first]
        assert key == [(r["theme_id"], r["comment_id"]) for r in again], "the same seed, the same sample"
        assert key != [(r["theme_id"], r["comment_id"]) for r in other]
        assert {r["theme_id"] for r in first} == {r["theme_id"] for r in other}, "every theme either way"
    finally:
        con.close()
