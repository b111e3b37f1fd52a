"""Label files: a sample of a docket's texts for an analyst to label, and reading the labels back.

    comments label sample DOCKET --n 60 --out labels.csv   # columns: comment_id, stance, current_stance, evidence, text
    comments label import labels.csv                      # the analyst filled `stance`

The sample is stratified so a few dozen labels teach the per-docket model
(`comments.analysis.stance_model`) what matters on this docket:
- each campaign's template once (largest first): a form letter's stance is
  many submissions' stance;
- singleton texts spread across themes and across organizations and
  individuals, round robin, so no theme or kind of commenter fills the sample;
- within each group the least certain first (lowest current confidence), and
  the file lists the least certain first: what the rules find hard is what a
  label teaches most.
Texts nobody read (`not read`), empty texts and texts already labeled (any
copy) are left out. Sampling is deterministic.

    comments label sample DOCKET --check --n 60 --out check.csv  # columns: comment_id, stance, purpose, text

A check sample measures instead of teaching: the read distinct texts in a
pseudo-random order (a hash of the docket and the text), every text equally
likely, whatever the rules think of it. The file shows neither the current
stance nor its evidence (the analyst labels blind), and every row says
`purpose` = `check`: those labels are never trained on; the analysis scores
its stance method on them (`comments.analysis.stance_step`), an estimate of
its accuracy over the docket's read texts, where the cross-validated figure
is measured on the training sample (least certain first: pessimistic).

Cells are neutralized against spreadsheet formula injection (a cell starting
with = + - @, tab or carriage return gets a leading single quote) because
analysts open these files in spreadsheets; the import strips that quote.

Import stores labels through `comments.labels.save_labels` (the one write
path): idempotent, a label applies to every copy of its text when the
analysis runs. A bad row gets a one-line error with its line number and is
skipped; every good row is stored; a blank `stance` is "not labeled yet".
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from comments.errors import InputError
from comments.labels import PURPOSES, STANCES, Label, save_labels

SAMPLE_COLUMNS = ("comment_id", "stance", "current_stance", "evidence", "text")
CHECK_COLUMNS = ("comment_id", "stance", "purpose", "text")
MAX_TEXT_CHARS = 6000  # a spreadsheet cell holds 32,767 characters; a label needs the start of a long letter
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell) -> str:
    """A cell a spreadsheet will not run as a formula ("=HYPERLINK(...)" -> "'=HYPERLINK(...)")."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


def unneutralize(cell: str | None) -> str:
    """The cell as written before `neutralize` (its added leading quote removed)."""
    text = cell or ""
    if text.startswith("'") and text[1:].startswith(_FORMULA_START):
        return text[1:]
    return text


def _cell(row: list[str], at: int) -> str:
    text = (row[at] if at < len(row) else "").strip()
    return text[1:].strip() if text.startswith("'") else text


_CANDIDATES_SQL = """
with
labeled as (
    -- texts already labeled: any copy of a labeled comment's text
    select distinct l.text_hash
    from analyst_labels a join comment_labels l using (comment_id)
    where a.docket_id = $docket_id and l.text_hash is not null
),
base as (
    select
        l.comment_id,
        l.text_hash,
        l.stance,
        l.stance_confidence,
        l.stance_evidence,
        l.commenter_type,
        l.commenter_name,
        b.body,
        m.campaign_id,
        coalesce(m.is_template, false)          as is_template,
        k.size                                  as campaign_size,
        t.theme_id
    from comment_labels l
    join comment_bodies b using (comment_id)
    left join campaign_members m using (comment_id)
    left join campaigns k on k.docket_id = l.docket_id and k.campaign_id = m.campaign_id
    left join comment_themes t on t.comment_id = l.comment_id and t.is_primary
    where l.docket_id = $docket_id
      and l.stance <> 'not read'
      and b.body is not null and trim(b.body) <> ''
      and (l.text_hash is null or l.text_hash not in (select text_hash from labeled))
)
select * from base
where campaign_id is null or is_template
order by comment_id
"""


def _tiebreak(comment_id: str) -> str:
    return hashlib.sha1(comment_id.encode()).hexdigest()


def _candidates(con: duckdb.DuckDBPyConnection, docket_id: str, n: int) -> list[dict]:
    """The texts either sample may draw (`_CANDIDATES_SQL`, in comment id order); InputErrors for a bad
    `n` or a docket not analyzed yet."""
    if n < 1:
        raise InputError("--n must be at least 1")
    analyzed = con.execute("select count(*) from comment_labels where docket_id = ?", [docket_id]).fetchall()[0][0]
    if not analyzed:
        raise InputError(f"docket {docket_id} has not been analyzed: run `comments analyze {docket_id}` first")
    cur = con.execute(_CANDIDATES_SQL, {"docket_id": docket_id})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def sample(con: duckdb.DuckDBPyConnection, docket_id: str, n: int) -> list[dict]:
    """Up to `n` texts of `docket_id` to label (see the module doc), least certain first."""
    rows = _candidates(con, docket_id, n)

    def certainty(r):
        return (float(r["stance_confidence"] or 0.0), _tiebreak(r["comment_id"]))

    chosen: list[dict] = []
    seen: set[str] = set()

    def take(r) -> bool:
        key = r["text_hash"] or r["comment_id"]
        if key in seen:
            return False
        seen.add(key)
        chosen.append(r)
        return True

    # Campaign templates, largest campaign first (at most half the sample).
    templates = sorted((r for r in rows if r["campaign_id"]), key=lambda r: (-(r["campaign_size"] or 0), r["campaign_id"]))
    for r in templates[: max(1, n // 2)]:
        if len(chosen) < n:
            take(r)

    # Singletons: round robin over (theme, organization or not), least certain first in each.
    strata: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["campaign_id"]:
            continue
        who = "organization" if r["commenter_type"] in ("organization", "government") else "individual"
        strata[(r["theme_id"] or "", who)].append(r)
    queues = [sorted(v, key=certainty) for _, v in sorted(strata.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    while len(chosen) < n and any(queues):
        for q in queues:
            while q and len(chosen) < n:
                if take(q.pop(0)):
                    break
    chosen.sort(key=lambda r: (certainty(r), -(r["campaign_size"] or 0)))
    return chosen


def check_sample(con: duckdb.DuckDBPyConnection, docket_id: str, n: int) -> list[dict]:
    """Up to `n` read distinct texts of `docket_id`, not yet labeled, in a pseudo-random order that
    does not depend on the analysis (see the module doc): a sample to measure on."""
    by_text: dict[str, dict] = {}
    for r in _candidates(con, docket_id, n):
        by_text.setdefault(r["text_hash"] or r["comment_id"], r)  # rows come in comment id order
    order = sorted(by_text, key=lambda key: hashlib.sha256(f"{docket_id}\n{key}".encode()).hexdigest())
    return [by_text[key] for key in order[:n]]


def write_sample(con: duckdb.DuckDBPyConnection, docket_id: str, n: int, out: str | Path, *, force: bool = False,
                 check: bool = False) -> int:
    """Write the sample to `out` as CSV (`stance` blank); returns the rows written. `check`: the blind,
    random sample to measure on (CHECK_COLUMNS), else the training sample (SAMPLE_COLUMNS)."""
    check_out(out, force)
    if check:
        rows = check_sample(con, docket_id, n)
        write_rows(out, CHECK_COLUMNS, [(r["comment_id"], "", "check", clip(r["body"])) for r in rows])
        return len(rows)
    rows = sample(con, docket_id, n)
    write_rows(out, SAMPLE_COLUMNS, [
        (r["comment_id"], "", r["stance"], r["stance_evidence"] or "", clip(r["body"])) for r in rows])
    return len(rows)


def clip(text: str) -> str:
    """A text cut to what a spreadsheet cell shows well (MAX_TEXT_CHARS), marked when cut."""
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " […]"


def check_out(out: str | Path, force: bool) -> None:
    """An InputError unless `out` can be written (a new file, or --force, in an existing directory)."""
    out = Path(out)
    if out.exists() and not force:
        raise InputError(f"{out} already exists: choose another name or pass --force to replace it")
    if out.is_dir() or not out.parent.exists():
        raise InputError(f"cannot write {out}: give a file in an existing directory")


def write_rows(out: str | Path, columns, rows) -> None:
    """Write a CSV for an analyst (cells neutralized against formulas), whole or not at all."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for row in rows:
            w.writerow([neutralize(v) for v in row])
    tmp.replace(out)


def read_rows(path: str | Path, required: tuple[str, ...]):
    """(line number, {column: cell}) for each non-blank row of an analyst's CSV, cells stripped and
    their spreadsheet quote removed; one-line InputErrors for a missing, unreadable or headless file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        fh = open(path, encoding="utf-8-sig", newline="")  # utf-8-sig: spreadsheets save a BOM
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        try:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path} is empty: expected a header with {' and '.join(required)}")
            names = [h.strip().lower() for h in header]
            if any(r not in names for r in required):
                raise InputError(f"{path} has no {' and '.join(required)} columns (found: {', '.join(names) or 'none'})")
            while True:
                line = reader.line_num + 1  # the line this row starts on
                row = next(reader, None)
                if row is None:
                    break
                if any(cell.strip() for cell in row):
                    yield line, {name: _cell(row, at) for at, name in enumerate(names)}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not a readable CSV file: {exc}") from None


@dataclass
class ImportResult:
    saved: int = 0                 # labels stored (a re-import stores the same rows again)
    checks: int = 0                # of them, check labels (measured on, never trained on)
    blank: int = 0                 # rows whose stance is still empty
    errors: list[str] = field(default_factory=list)   # one line per bad row, with its line number
    dockets: list[str] = field(default_factory=list)  # dockets that got labels


def import_csv(con: duckdb.DuckDBPyConnection, path: str | Path, *, check: bool = False) -> ImportResult:
    """Store the labels of a filled-in sample file (see the module doc). A row is a check label when
    its `purpose` cell says `check`, or every row with `check`."""
    path = Path(path)
    result = ImportResult()
    wanted: list[tuple[int, str, str, str]] = []  # (line, comment_id, stance, purpose)
    for line, row in read_rows(path, ("comment_id", "stance")):
        # ids and stances never start with a quote: one there is a spreadsheet's text marker
        comment_id, stance = row["comment_id"], row["stance"]
        if not comment_id:
            result.errors.append(f"{path.name} line {line}: no comment_id")
            continue
        if not stance:
            result.blank += 1
            continue
        canonical = stance.lower()
        if canonical not in STANCES:
            result.errors.append(
                f"{path.name} line {line}: stance {stance!r} of {comment_id} is not one of {', '.join(STANCES)}")
            continue
        purpose = "check" if check else ((row.get("purpose") or "").lower() or "train")
        if purpose not in PURPOSES:
            result.errors.append(
                f"{path.name} line {line}: purpose {row.get('purpose')!r} of {comment_id} is not one of {', '.join(PURPOSES)}")
            continue
        wanted.append((line, comment_id, canonical, purpose))

    docket_of = dict(con.execute(
        "select comment_id, docket_id from comments where comment_id in (select unnest(?::varchar[]))",
        [[c for _, c, _, _ in wanted]],
    ).fetchall()) if wanted else {}
    by_docket: dict[str, list[Label]] = defaultdict(list)
    for line, comment_id, stance, purpose in wanted:
        docket = docket_of.get(comment_id)
        if docket is None:
            result.errors.append(f"{path.name} line {line}: comment {comment_id} is not in this database")
            continue
        by_docket[docket].append(Label(comment_id, stance, source_ref=f"{path.name}:{line}", purpose=purpose))
        result.checks += purpose == "check"
    for docket, labels in sorted(by_docket.items()):
        result.saved += save_labels(con, docket, labels, source="csv")
        result.dockets.append(docket)
    return result
