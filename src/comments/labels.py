"""Analyst labels: the stance (and optionally theme) a person gave a comment.

The one write path for `comments label import` and the explorer's label mode,
so both store the same thing. A label is keyed on the comment the analyst
read; it applies to every copy of that text (same `comment_labels.text_hash`)
when the analysis uses it (`labels_by_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from comments import records, store
from comments.errors import InputError

STANCES = ("support", "oppose", "mixed", "unclear")


@dataclass(frozen=True)
class Label:
    comment_id: str
    stance: str
    theme_id: str | None = None
    source_ref: str | None = None


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
         "theme_id": lab.theme_id, "source": source, "source_ref": lab.source_ref, "labeled_at": now}
        for lab in labels
    ]
    return store.upsert(con, "analyst_labels", rows, key=["comment_id"])


def label_count(con: duckdb.DuckDBPyConnection, docket_id: str) -> int:
    return store.scalar(con, "select count(*) from analyst_labels where docket_id = ?", [docket_id]) or 0
