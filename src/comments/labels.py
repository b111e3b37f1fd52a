"""Analyst labels: the stance (and optionally theme) a person gave a comment.

The one write path for `comments label import` and the explorer's label mode,
so both store the same thing. A label is keyed on the comment the analyst
read; it applies to every copy of that text (same `comment_labels.text_hash`)
when the analysis uses it (`comments.analysis.stance_step`): labeled texts
keep their label, and with enough labels a per-docket model is trained on
them (`stance_accuracy` says how that measured).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from comments import records, store
from comments.errors import InputError

# What an analyst can say about a text they read (`not read` is the analysis's, never a label).
STANCES = ("support", "oppose", "mixed", "unclear")
# What a label is for: 'train' teaches the per-docket model (and its cross-validation measures on
# it); 'check' only measures (a random, blind sample: `comments label sample --check`).
PURPOSES = ("train", "check")


@dataclass(frozen=True)
class Label:
    comment_id: str
    stance: str
    theme_id: str | None = None
    source_ref: str | None = None
    purpose: str = "train"


def check_stance(value: str) -> str:
    """The canonical stance for `value` (case and spaces ignored), or an InputError naming the choices."""
    stance = (value or "").strip().lower()
    if stance not in STANCES:
        raise InputError(f"stance {value!r} is not one of {', '.join(STANCES)}")
    return stance


def save_labels(con: duckdb.DuckDBPyConnection, docket_id: str, labels: Iterable[Label], *, source: str) -> int:
    """Store labels (a later label of the same comment replaces the earlier); returns how many were written.

    Idempotent: importing the same labels twice leaves the same rows.
    """
    now = records.now_utc()
    rows = [
        {"docket_id": docket_id, "comment_id": lab.comment_id, "stance": check_stance(lab.stance),
         "theme_id": lab.theme_id, "source": source, "source_ref": lab.source_ref, "labeled_at": now,
         "purpose": lab.purpose if lab.purpose in PURPOSES else "train"}
        for lab in labels
    ]
    return store.upsert(con, "analyst_labels", rows, key=["comment_id"])


def label_count(con: duckdb.DuckDBPyConnection, docket_id: str) -> int:
    return store.scalar(con, "select count(*) from analyst_labels where docket_id = ?", [docket_id]) or 0


_ACCURACY_COLUMNS = (
    "method", "n_labels", "accuracy", "accuracy_sd", "folds", "rules_accuracy", "model_accuracy", "classes", "note",
    "run_id", "trained_at", "check_n", "check_accuracy", "check_low", "check_high", "check_rules_accuracy",
    "check_model_accuracy",
)


def stance_accuracy(con: duckdb.DuckDBPyConnection, docket_id: str) -> dict | None:
    """How the latest analysis decided stance on `docket_id` and how accurate it measured there.

    The latest `stance_models` row as a dict: method ('rules' | 'model'),
    n_labels (distinct labeled texts), accuracy (the model's grouped
    cross-validated accuracy; for 'rules', the rules' agreement with the
    labels, None without labels), accuracy_sd, folds, rules_accuracy,
    model_accuracy, classes ({stance: labeled texts}), note, run_id,
    trained_at, and what the check labels measured (check_n distinct texts,
    check_accuracy of the method used with its 95% interval check_low and
    check_high, check_rules_accuracy, check_model_accuracy; None without check labels). None before
    any analysis that recorded it.
    """
    import json

    try:
        # every column: a database from before migration 021 opened read-only has no check_* columns,
        # and its figures are still read (the check figures are None there)
        cur = con.execute(
            """select * from stance_models where docket_id = ?
               order by trained_at desc, run_id desc limit 1""",
            [docket_id],
        )
    except duckdb.CatalogException:  # a database from before migration 012, opened read-only
        return None
    rows = cur.fetchall()  # (fetchall: a half-read result would block the connection's next register)
    if not rows:
        return None
    found = dict(zip([d[0] for d in cur.description], rows[0], strict=True))
    out = {column: found.get(column) for column in _ACCURACY_COLUMNS}
    out["classes"] = json.loads(out["classes"]) if isinstance(out["classes"], str) else (out["classes"] or {})
    return out
