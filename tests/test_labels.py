"""Analyst labels: the sample file, the import, labels reaching every copy, `not read`, and the
per-docket model's reported accuracy checked against an independent recount.

The docket is the bundled real CMS-2022-0163 (647 comments, 179 of them with their substance in
attachments the bundle does not carry), analyzed by the real pipeline.
"""

from __future__ import annotations

import copy
import csv
import glob
import json
from pathlib import Path

import numpy as np
import pytest

from comments import records, store
from comments.analysis.pipeline import analyze_docket
from comments.cli import main as cli_main
from comments.label_files import (
    CHECK_COLUMNS,
    SAMPLE_COLUMNS,
    import_csv,
    neutralize,
    unneutralize,
    write_sample,
)
from comments.labels import Label, save_labels, stance_accuracy

ROOT = Path(__file__).resolve().parents[1]
COMMENTS_DIR = ROOT / "src/comments/data/mirrulations/raw-data/CMS/CMS-2022-0163/text-CMS-2022-0163/comments"
SHIPPED_LABELS = ROOT / "src" / "comments" / "data" / "labels" / "CMS-2022-0163.labels.csv"
SHIPPED_CHECK = ROOT / "src" / "comments" / "data" / "labels" / "CMS-2022-0163.check.csv"
DOCKET = "CMS-2022-0163"
# The grouped CV accuracy measured with the shipped 60 labels (0.717, docs/stance_labeling.md) minus a
# margin; the target is 0.85, not reached (see the docs for what limits it).
MODEL_FLOOR = 0.66
FORMULA_ID = f"{DOCKET}-9101"
FORMULA_TEXT = "=HYPERLINK(\"https://evil.example/\",\"click\") I am not sure what this directory would change for me."


def _details() -> list[dict]:
    details = [json.loads(Path(f).read_text(encoding="utf-8")) for f in sorted(glob.glob(str(COMMENTS_DIR / "*.json")))]
    planted = copy.deepcopy(details[0])
    planted["data"]["id"] = FORMULA_ID
    planted["data"]["attributes"]["comment"] = FORMULA_TEXT
    planted.pop("included", None)
    planted["data"].get("relationships", {}).pop("attachments", None)
    return details + [planted]


def _db(path: Path):
    con = store.connect(path)
    records.save_comments(con, _details(), source="mirrulations")
    analyze_docket(con, DOCKET)
    return con


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "comments.duckdb"
    con = _db(path)
    yield path, con
    con.close()


def _rows(con, sql, *params):
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# ---------------------------------------------------------------- not read


def test_attachment_only_comments_are_not_read_everywhere_stance_is(analyzed):
    _, con = analyzed
    # the rule, straight from the view: a cover-note box, no attachment text, attachments listed
    expected = {r["comment_id"] for r in _rows(con, """
        select comment_id from comment_bodies b join comments c using (comment_id)
        where b.docket_id = ? and b.body is null and b.box_is_boilerplate
          and (b.attachments > 0 or coalesce(c.attachment_count, 0) > 0)""", DOCKET)}
    assert len(expected) >= 179
    stances = dict(con.execute("select comment_id, stance from comment_labels where docket_id = ?", [DOCKET]).fetchall())
    assert {c for c in expected if stances[c] != "not read"} == set()
    # never unclear: unclear is kept for texts that were read and take no side
    unread_unclear = _rows(con, """select l.comment_id from comment_labels l join comment_bodies b using (comment_id)
        where l.docket_id = ? and l.stance = 'unclear' and b.not_read""", DOCKET)
    assert unread_unclear == []
    # its own row in the overall table, the organizations table, and the headline count
    from comments.resources import sql_text

    overall = {r[0]: r for r in con.execute(sql_text("reports/brief_stance.sql"), {"docket_id": DOCKET}).fetchall()}
    n_not_read = sum(1 for s in stances.values() if s == "not read")
    assert overall["not read"][2] == n_not_read  # comments column
    headline = con.execute(sql_text("reports/brief_headline.sql"), {"docket_id": DOCKET}).fetchall()
    cols = [d[0] for d in con.description]
    assert dict(zip(cols, headline[0], strict=True))["not_read"] == n_not_read
    orgs = _rows(con, sql_text("reports/organizations.sql").replace("$docket_id", "?"), DOCKET)
    only_unread = [o for o in orgs if o["not_read"] == o["comments"]]
    assert only_unread and all(o["stance"] == "not read" for o in only_unread)
    briefed = _rows(con, sql_text("reports/brief_commenters.sql").replace("$docket_id", "?"), DOCKET)
    assert any(o["stance"] == "not read" for o in briefed)
    # and in the export
    from comments.export import export_query

    exported = con.execute(export_query(), [DOCKET]).fetchall()
    cols = [d[0] for d in con.description]
    assert {r[cols.index("comment_id")] for r in exported if r[cols.index("stance")] == "not read"} == {
        c for c, s in stances.items() if s == "not read"}


# ---------------------------------------------------------------- the sample file


def test_sample_file_is_stratified_and_safe_to_open_in_a_spreadsheet(analyzed, tmp_path):
    _, con = analyzed
    out = tmp_path / "sample.csv"
    n = write_sample(con, DOCKET, 60, out)
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) == 60
    assert tuple(rows[0]) == SAMPLE_COLUMNS
    assert all(r["stance"] == "" for r in rows)
    ids = [unneutralize(r["comment_id"]) for r in rows]
    info = {r["comment_id"]: r for r in _rows(con, """
        select l.comment_id, l.text_hash, l.stance, l.stance_confidence, m.campaign_id, m.is_template
        from comment_labels l left join campaign_members m using (comment_id) where l.docket_id = ?""", DOCKET)}
    # no text nobody read, no copy twice, each campaign only through its template and at most once
    assert all(info[c]["stance"] != "not read" for c in ids)
    assert len({info[c]["text_hash"] for c in ids}) == len(ids)
    campaigns = [info[c]["campaign_id"] for c in ids if info[c]["campaign_id"]]
    assert len(campaigns) == len(set(campaigns)) and all(info[c]["is_template"] for c in ids if info[c]["campaign_id"])
    largest = con.execute("select campaign_id from campaigns where docket_id = ? order by size desc limit 1",
                          [DOCKET]).fetchall()[0][0]
    assert largest in campaigns
    # least certain first
    confidences = [info[c]["stance_confidence"] for c in ids]
    assert confidences == sorted(confidences)
    # the current stance and evidence are the analysis's
    for r in rows:
        assert unneutralize(r["current_stance"]) == info[unneutralize(r["comment_id"])]["stance"]
    # a text that starts like a formula is neutralized, and reads back as written
    planted = next((r for r in rows if unneutralize(r["comment_id"]) == FORMULA_ID), None)
    if planted is None:  # not drawn: check the writer on it directly
        planted = {"text": neutralize(FORMULA_TEXT)}
    assert planted["text"].startswith("'=") and unneutralize(planted["text"]) == FORMULA_TEXT
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralize(cell) == "'" + cell and unneutralize(neutralize(cell)) == cell
    assert neutralize("plain text") == "plain text"
    # refuses to overwrite
    from comments.errors import InputError

    with pytest.raises(InputError, match="already exists"):
        write_sample(con, DOCKET, 10, out)


# ---------------------------------------------------------------- import


def test_import_keeps_good_rows_reports_bad_ones_by_line_and_is_idempotent(analyzed, tmp_path, capsys):
    path, con = analyzed
    good = con.execute("select comment_id from comment_labels where docket_id = ? and stance <> 'not read' "
                       "order by comment_id limit 3", [DOCKET]).fetchall()
    f = tmp_path / "labels.csv"
    f.write_text(
        "comment_id,stance,current_stance,evidence,text\n"
        f"{good[0][0]},support,unclear,,\"a text\nover two lines\"\n"   # line 2-3
        f"{good[1][0]},maybe,unclear,,x\n"                             # line 4: bad stance
        "CMS-2022-0163-99999,oppose,,,x\n"                             # line 5: unknown comment
        f"{good[2][0]},,unclear,,x\n"                                  # line 6: not labeled yet
        f"'{good[2][0]},' Oppose ,unclear,,x\n",                       # line 7: quoted id, spaces, case
        encoding="utf-8",
    )
    con.close()
    try:
        code = cli_main(["label", "import", str(f), "--db", str(path)])
        out = capsys.readouterr()
        assert code == 2
        errors = [line for line in out.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 3 and "2 bad rows" in errors[2]
        assert "line 4" in errors[0] and "'maybe'" in errors[0]
        assert "line 5" in errors[1] and "CMS-2022-0163-99999" in errors[1]
        assert "stored 2 labels" in out.out and "1 rows not labeled yet" in out.out
        assert cli_main(["label", "import", str(f), "--db", str(path)]) == 2  # again: same rows
    finally:
        con = store.connect(path)
    stored = con.execute("select comment_id, stance, source, source_ref from analyst_labels order by comment_id").fetchall()
    assert [(c, s) for c, s, _, _ in stored] == [(good[0][0], "support"), (good[2][0], "oppose")]
    assert all(src == "csv" for _, _, src, _ in stored) and stored[0][3] == "labels.csv:2"
    con.execute("delete from analyst_labels")
    # a file that is not a label file: one clear error, nothing stored
    from comments.errors import InputError

    bad = tmp_path / "other.csv"
    bad.write_text("id,label\nx,support\n", encoding="utf-8")
    with pytest.raises(InputError, match="no comment_id and stance columns"):
        import_csv(con, bad)
    assert con.execute("select count(*) from analyst_labels").fetchall()[0][0] == 0


# ---------------------------------------------------------------- labels reach every copy


def test_a_label_applies_to_every_copy_of_its_text(tmp_path):
    con = _db(tmp_path / "copies.duckdb")
    try:
        # an exact text shared by several comments (campaign copies included)
        text_hash, copies = con.execute(
            """select l.text_hash, list(l.comment_id order by l.comment_id) from comment_labels l
               join comment_bodies b using (comment_id)
               where l.docket_id = ? and not b.not_read and trim(coalesce(b.body, '')) <> ''
               group by l.text_hash having count(*) >= 3 order by count(*) desc limit 1""", [DOCKET]).fetchall()[0]
        before = con.execute("select stance from comment_labels where comment_id = ?", [copies[0]]).fetchall()[0][0]
        flipped = "support" if before != "support" else "oppose"
        save_labels(con, DOCKET, [Label(copies[-1], flipped)], source="explorer")
        # a label on a comment nobody could read applies to that comment only
        unread = con.execute("select comment_id from comment_bodies where docket_id = ? and not_read order by 1 limit 2",
                             [DOCKET]).fetchall()
        save_labels(con, DOCKET, [Label(unread[0][0], "oppose")], source="explorer")
        analyze_docket(con, DOCKET)
        got = dict(con.execute("select comment_id, stance from comment_labels where text_hash = ?", [text_hash]).fetchall())
        assert set(got) == set(copies) and set(got.values()) == {flipped}
        sources = {s for (s,) in con.execute("select distinct stance_source from comment_labels where comment_id in "
                                             "(select unnest(?::varchar[]))", [copies]).fetchall()}
        assert sources <= {"analyst", "template"}
        assert con.execute("select stance from comment_labels where comment_id = ?", [unread[0][0]]).fetchall()[0][0] == "oppose"
        assert con.execute("select stance from comment_labels where comment_id = ?", [unread[1][0]]).fetchall()[0][0] == "not read"
        row = stance_accuracy(con, DOCKET)
        assert row["method"] == "rules" and row["n_labels"] == 1  # the unread comment's label is not a text to learn from
    finally:
        con.close()


# ---------------------------------------------------------------- the per-docket model


def _recount(con) -> tuple[float, float, int]:
    """The grouped cross-validated accuracy, recomputed here from the stored labels.

    Independent of comments.analysis.stance_model: its own query for the labeled texts and their
    groups (campaign, else normalized text), its own scikit-learn pipeline built from the documented
    recipe (word 1-2-grams, char 3-5-grams, each in >= 2 texts, the rule cues; balanced logistic
    regression, C=2, newton-cg), its own
    loop over StratifiedGroupKFold(5) and its own pooling.
    """
    import scipy.sparse as sp
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import FeatureUnion, Pipeline

    from comments.analysis.stance import STANCES, classify

    rows = con.execute("""
        with labeled as (
            select a.comment_id, a.stance, a.labeled_at, l.text_hash, b.body, m.campaign_id
            from analyst_labels a
            join comment_labels l using (comment_id)
            join comment_bodies b using (comment_id)
            left join campaign_members m using (comment_id)
            where a.docket_id = ? and trim(coalesce(b.body, '')) <> '' and coalesce(a.purpose, 'train') = 'train'
        )
        select text_hash, arg_max(stance, labeled_at), arg_max(body, labeled_at), arg_max(campaign_id, labeled_at)
        from labeled group by text_hash order by text_hash""", [DOCKET]).fetchall()
    texts = [r[2] if len(r[2]) <= 5500 else r[2][:4000] + "\n" + r[2][-1500:] for r in rows]
    labels = [r[1] for r in rows]
    groups = [f"campaign:{r[3]}" if r[3] else f"text:{r[0]}" for r in rows]

    class Cues(BaseEstimator, TransformerMixin):
        def fit(self, x, y=None):
            return self

        def transform(self, x):
            out = []
            for t in x:
                s = classify(t)
                out.append([np.log1p(s.support_score), np.log1p(s.oppose_score)] + [float(s.stance == c) for c in STANCES])
            return sp.csr_matrix(np.array(out))

    def model():
        return Pipeline([
            ("f", FeatureUnion([
                ("w", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True,
                                      max_features=200_000)),
                ("r", Cues()),
            ])),
            ("m", LogisticRegression(C=2.0, class_weight="balanced", max_iter=5000, solver="newton-cg")),
        ])

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folds = list(StratifiedGroupKFold(n_splits=5).split(np.zeros(len(labels)), labels, groups))
    right, per_fold = 0, []
    for train, test in folds:
        for i in test:  # copies of one letter never on both sides of a split
            assert groups[i] not in {groups[j] for j in train}
        fitted = model().fit([texts[i] for i in train], [labels[i] for i in train])
        hits = sum(p == labels[i] for i, p in zip(test, fitted.predict([texts[i] for i in test]), strict=True))
        right += hits
        per_fold.append(hits / len(test))
    return right / len(labels), float(np.std(per_fold, ddof=1)), len(labels)


def test_sixty_labels_train_a_docket_model_whose_reported_accuracy_is_recounted(tmp_path, capsys):
    path = tmp_path / "model.duckdb"
    con = _db(path)
    con.close()
    assert cli_main(["label", "import", str(SHIPPED_LABELS), "--db", str(path)]) == 0
    assert "stored 60 labels" in capsys.readouterr().out
    con = store.connect(path)
    try:
        analyze_docket(con, DOCKET)
        row = stance_accuracy(con, DOCKET)
        accuracy, sd, n = _recount(con)
        assert n == row["n_labels"] == 60
        assert row["method"] == "model" and row["folds"] == 5
        assert row["accuracy"] == pytest.approx(accuracy, abs=1e-9)
        assert row["accuracy_sd"] == pytest.approx(sd, abs=1e-9)
        assert row["accuracy"] >= MODEL_FLOOR, row  # the figure measured (docs/stance_labeling.md) minus a margin
        # labeled texts keep their label, every copy of them too
        wrong = con.execute("""select count(*) from analyst_labels a join comment_labels l using (comment_id)
            join comment_labels c on c.text_hash = l.text_hash where a.stance <> c.stance""").fetchall()[0][0]
        assert wrong == 0
        # the model decided the rest, and says so with a verbatim span where it took a side
        for evidence, body in con.execute("""select l.stance_evidence, b.body from comment_labels l
                join comment_bodies b using (comment_id) where l.stance_source = 'model'""").fetchall():
            assert evidence is None or evidence in body
        assert con.execute("select count(*) from comment_labels where stance_source = 'model'").fetchall()[0][0] > 100
        # the briefing says how stance was decided and how accurate it measured, with the stored figures
        from comments.briefing import gather

        statement = gather(con, DOCKET)["stance_method"]["statement"]
        assert statement.startswith(f"Stance: model trained on 60 analyst labels of this docket, "
                                    f"{row['accuracy']:.2f} ± {row['accuracy_sd']:.2f} accuracy (5-fold")
    finally:
        con.close()


# ---------------------------------------------------------------- check labels


def test_check_labels_are_a_blind_random_sample_never_trained_on_and_their_accuracy_is_recounted(tmp_path, capsys):
    from comments.analysis.stance_step import wilson
    from comments.briefing import gather

    path = tmp_path / "check.duckdb"
    _db(path).close()
    assert cli_main(["label", "import", str(SHIPPED_LABELS), "--db", str(path)]) == 0
    con = store.connect(path)
    try:
        analyze_docket(con, DOCKET)
        before = stance_accuracy(con, DOCKET)
        assert before["check_n"] is None
        by_model = dict(con.execute("select text_hash, any_value(stance) from comment_labels where docket_id = ? "
                                    "and stance_source = 'model' group by 1", [DOCKET]).fetchall())
        train_hashes = {h for (h,) in con.execute("select l.text_hash from analyst_labels a join comment_labels l "
                                                  "using (comment_id)").fetchall()}
    finally:
        con.close()

    # the sample: blind (no current stance, no evidence), drawn from read texts not yet labeled, repeatable
    out = tmp_path / "check.csv"
    assert cli_main(["label", "sample", DOCKET, "--check", "--n", "25", "--out", str(out), "--db", str(path)]) == 0
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CHECK_COLUMNS and len(rows) == 26
    assert {r[2] for r in rows[1:]} == {"check"} and all(r[1] == "" for r in rows[1:])
    con = store.connect(path, read_only=True)
    try:
        sampled = con.execute("""select l.text_hash, l.stance, b.not_read, trim(coalesce(b.body, '')) = ''
            from comment_labels l join comment_bodies b using (comment_id)
            where l.comment_id in (select unnest(?::varchar[]))""", [[r[0] for r in rows[1:]]]).fetchall()
    finally:
        con.close()
    assert len({h for h, *_ in sampled}) == 25 and not ({h for h, *_ in sampled} & train_hashes)
    assert not any(nr or empty or stance == "not read" for _, stance, nr, empty in sampled)
    again = tmp_path / "again.csv"
    assert cli_main(["label", "sample", DOCKET, "--check", "--n", "25", "--out", str(again), "--db", str(path)]) == 0
    assert again.read_bytes() == out.read_bytes()
    capsys.readouterr()

    # the shipped check file (labeled blind by reading): stored as check labels, a bad purpose is one line
    assert cli_main(["label", "import", str(SHIPPED_CHECK), "--db", str(path)]) == 0
    said = capsys.readouterr().out
    with open(SHIPPED_CHECK, encoding="utf-8", newline="") as fh:
        check_rows = list(csv.DictReader(fh))
    assert f"{len(check_rows)} of them check labels" in said
    bad = tmp_path / "bad.csv"
    bad.write_text("comment_id,stance,purpose\n" + check_rows[0]["comment_id"] + ",oppose,verify\n", encoding="utf-8")
    assert cli_main(["label", "import", str(bad), "--db", str(path)]) == 2
    assert "bad.csv line 2: purpose 'verify'" in capsys.readouterr().err

    con = store.connect(path)
    try:
        analyze_docket(con, DOCKET)
        after = stance_accuracy(con, DOCKET)
        # never trained on: the model, its cross-validation and its decisions elsewhere are unchanged
        for key in ("method", "n_labels", "accuracy", "accuracy_sd", "folds"):
            assert after[key] == before[key], key
        check_hashes = dict(con.execute("""select l.text_hash, a.stance from analyst_labels a
            join comment_labels l using (comment_id) where a.purpose = 'check'""").fetchall())
        now = dict(con.execute("select text_hash, any_value(stance) from comment_labels where docket_id = ? "
                               "and stance_source = 'model' group by 1", [DOCKET]).fetchall())
        assert {h: s for h, s in by_model.items() if h not in check_hashes} == now
        # the figure: the earlier run's model decisions on those texts against the labels, recounted here
        assert len(check_hashes) == after["check_n"] == len(check_rows)
        hits = sum(by_model[h] == s for h, s in check_hashes.items())
        assert after["check_accuracy"] == pytest.approx(hits / len(check_hashes), abs=1e-12)
        assert (after["check_low"], after["check_high"]) == pytest.approx(wilson(hits, len(check_hashes)))
        assert after["check_low"] < after["check_accuracy"] < after["check_high"]
        assert after["check_model_accuracy"] == after["check_accuracy"]  # the model is the method here
        # check-labeled texts then keep the analyst's label, every copy too (a box text labeled
        # `unclear` whose attachments are unread is `not read`, as for any label: its position is in them)
        kept = con.execute("""select count(*) from analyst_labels a join comment_labels l using (comment_id)
            join comment_labels c on c.text_hash = l.text_hash
            where a.stance <> c.stance and not (a.stance = 'unclear' and c.stance = 'not read')""").fetchall()[0][0]
        assert kept == 0
        statement = gather(con, DOCKET)["stance_method"]["statement"]
        assert (f"Checked on {len(check_hashes)} texts of this docket drawn at random and labeled blind (never "
                f"trained on): the model agrees with {after['check_accuracy']:.2f}") in statement
    finally:
        con.close()


def test_the_wilson_interval_matches_published_values():
    from comments.analysis.stance_step import wilson

    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def test_a_database_from_before_check_labels_still_reports_its_accuracy_read_only(tmp_path):
    import duckdb

    from comments.resources import sql_dir

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute((sql_dir() / "schema" / "012_stance_models.sql").read_text(encoding="utf-8"))
    con.execute("insert into stance_models values ('D', 'r1', 'model', 60, 0.72, 0.11, 5, 0.70, 0.72, "
                "'{\"oppose\": 17}', null, now())")
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = stance_accuracy(con, "D")
    finally:
        con.close()
    assert (row["method"], row["n_labels"], row["accuracy"], row["classes"]) == ("model", 60, 0.72, {"oppose": 17})
    assert row["check_n"] is None and row["check_accuracy"] is None
