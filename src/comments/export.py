"""Take a docket's comments out, with their analysis, as CSV, Parquet or JSON Lines.

One row per comment: the comment's own fields, its effective text, and what the
analysis said about it (campaign, primary theme, stance, who commented, and the substance
score of its unique text: `significance_score` 0-100, `significance_rank` 1 = most).
Names of private individuals are left out unless asked for, as in briefings.

DuckDB writes the file itself (`COPY (query) TO 'path'`). The docket id is a
prepared parameter; the target path is the user's own argument, validated and
written as a quoted SQL string literal (COPY's target cannot be a parameter in
every DuckDB version). The file appears atomically: written next to the
target under a temporary name, then renamed.

CSV is opened by spreadsheets, which run a cell that starts with `=`, `+`, `-`,
`@`, tab or CR as a formula (`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`). As OWASP's
CSV-injection guidance says, such text cells get a leading `'` (shown as text,
not run); DuckDB quotes any cell holding a comma, quote or line break, so no
value can open a new cell. Only text columns are touched: numbers stay numbers
(a negative count is still `-3`). Parquet and JSON Lines keep the data exact.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from comments.errors import InputError

FORMATS = {
    "csv": "(FORMAT csv, HEADER true)",
    "parquet": "(FORMAT parquet)",
    "jsonl": "(FORMAT json)",  # newline-delimited, one object per line
}

_NAME_COLUMNS = "c.first_name, c.last_name,"


def export_query(*, include_names: bool = False, flat: bool = False) -> str:
    """The SELECT behind an export; one parameter, `$1`, the docket id.

    `flat` turns list columns into JSON text (CSV has no lists).
    """
    additions = "to_json(m.unique_additions)::varchar" if flat else "m.unique_additions"
    also = "to_json(ac.campaigns)::varchar" if flat else "ac.campaigns"
    names = _NAME_COLUMNS if include_names else ""
    return f"""
    select
        c.comment_id,
        c.docket_id,
        c.document_id,
        'https://www.regulations.gov/comment/' || c.comment_id as url,
        c.posted_date,
        c.received_date,
        c.title,
        {names}
        c.organization,
        c.category,
        c.gov_agency,
        c.gov_agency_type,
        c.state,
        c.country,
        c.duplicate_comments,
        1 + coalesce(c.duplicate_comments, 0)       as submissions_represented,
        c.withdrawn,
        c.attachment_count,
        b.attachments_with_text,
        b.body_source,
        b.body                                       as effective_text,
        a.campaign_id,
        a.is_campaign_copy,
        cp.size                                      as campaign_size,
        m.is_template                                as is_campaign_template,
        m.similarity                                 as campaign_similarity,
        {additions}                                  as unique_additions,
        {also}                                       as also_copies_campaigns,
        a.theme_id,
        t.label                                      as theme_label,
        a.stance,
        a.stance_confidence,
        l.stance_evidence,
        a.commenter_type,
        l.commenter_name,
        sg.score                                     as significance_score,
        sg.rank                                      as significance_rank
    from comments c
    join comment_bodies b using (comment_id)
    join comment_analysis a using (comment_id)
    left join campaign_members m using (comment_id)
    left join campaigns cp on cp.docket_id = c.docket_id and cp.campaign_id = a.campaign_id
    -- the other campaigns whose letter this comment copies too
    left join (
        select docket_id, comment_id, list(campaign_id order by campaign_id) as campaigns
        from comment_other_letters
        where docket_id = $1
        group by all
    ) ac on ac.docket_id = c.docket_id and ac.comment_id = c.comment_id
    left join themes t on t.docket_id = c.docket_id and t.theme_id = a.theme_id
    left join comment_labels l using (comment_id)
    -- substance is scored per unique text: a campaign copy carries its template's score
    left join comment_significance sg on sg.comment_id = coalesce(cp.template_comment_id, c.comment_id)
    where c.docket_id = $1
    order by c.posted_date, c.comment_id
    """


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(con: duckdb.DuckDBPyConnection, query: str, params: list) -> str:
    """`query` with every text column's formula-like cells prefixed by `'` (OWASP CSV injection)."""
    columns = con.execute(f"select * from ({query}) limit 0", params).description
    starts = ", ".join(sql_string_literal(c) for c in FORMULA_STARTS)
    select = []
    for name, type_code, *_ in columns:
        col = '"' + name.replace('"', '""') + '"'
        if str(type_code) == "VARCHAR":
            select.append(f"case when left({col}, 1) in ({starts}) then chr(39) || {col} else {col} end as {col}")
        else:
            select.append(col)
    return f"select {', '.join(select)} from ({query})"


def sql_string_literal(text: str) -> str:
    """`text` as a SQL string literal: single quotes doubled (standard SQL; no backslash escapes)."""
    if "\x00" in text:
        raise InputError("output path contains a NUL character")
    return "'" + text.replace("'", "''") + "'"


def check_out_path(out: str | os.PathLike, *, force: bool = False) -> Path:
    path = Path(out).expanduser()
    text = str(path)
    if not text or any(ch in text for ch in ("\x00", "\n", "\r")):
        raise InputError(f"not a usable output path: {text!r}")
    if path.is_dir():
        raise InputError(f"{path} is a directory: give a file name, e.g. {path / 'comments.csv'}")
    if path.exists() and not force:
        raise InputError(f"{path} already exists: choose another name or pass --force to replace it")
    if not path.parent.exists():
        raise InputError(f"directory {path.parent} does not exist")
    return path


def export_docket(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    fmt: str,
    out: str | os.PathLike,
    *,
    include_names: bool = False,
    force: bool = False,
) -> int:
    """Write the docket's comments with their analysis to `out` in `fmt`; returns rows written."""
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    path = check_out_path(out, force=force)
    count = con.execute("select count(*) from comments where docket_id = ?", [docket_id]).fetchone()[0]
    if count == 0:
        raise InputError(f"no comments for docket {docket_id} in this database: run `comments sync {docket_id}` first")
    tmp = path.with_name(f".{path.name}.partial")
    query = export_query(include_names=include_names, flat=(fmt == "csv"))
    if fmt == "csv":
        query = spreadsheet_safe(con, query, [docket_id])
    try:
        con.execute(f"copy ({query}) to {sql_string_literal(str(tmp))} {FORMATS[fmt]}", [docket_id])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
