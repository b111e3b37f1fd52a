"""Each pipeline command's stages, in order: the one definition both ways of running them share.

The CLI calls these functions directly when runs need not be recorded in
Prefect (`comments.commands.runner`); the flows in `flows/` call the very same
functions with a `stage` runner that makes each stage a Prefect task run. So
a run recorded in Prefect and a direct run do the same work in the same order,
and changing a command's stages means changing this file only.

`stage(name, fn, *args, **kwargs)` runs one stage and returns its result;
`direct` just calls it. Progress callbacks are plain arguments here (a flow gets them from
its module's `hooks`: callables cannot be flow parameters).

Every stage opens the database from its path and holds it only while it
runs SQL: the sync and the attachment stage through `store.shared` (other
processes use the file while requests and extraction run), readers through
`store.reading` (docs/scale.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from comments import store
from comments.progress import ProgressFn, noop

Stage = Callable[..., Any]
BATCH_FILES = 500


def direct(name: str, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


# --------------------------------------------------------------------------- sync


def sync_docket(
    db: str | Path,
    client,
    docket_id: str,
    *,
    max_comments: int | None = None,
    no_attachments: bool = False,
    progress: ProgressFn = noop,
    attachments: Callable[[str, str], dict[str, int]] | None = None,
    stage: Stage = direct,
    on_synced: Callable[[dict], None] | None = None,
) -> dict:
    """The sync stages of `comments.sync.STAGES`, then (unless it failed) the docket's attachments.

    `attachments(docket_id, db)` runs the attachment stage (default:
    `fetch_attachments` with the same `stage`); the flow passes its subflow.
    Returns the run's summary dict, with the attachment counts and seconds.
    `on_synced(summary)` hears the comments' summary before the attachments start (they
    can take hours on a big docket; an interrupt there must not hide what the sync did).
    """
    from comments.sync import sync_docket as sync_stages

    con = store.shared(db)  # held only while a page is saved, not while its requests run
    try:
        result = sync_stages(con, client, docket_id, max_comments=max_comments, progress=progress, stage=stage)
    finally:
        con.close()
    summary = result.as_dict()
    if on_synced is not None:
        on_synced(summary)
    if not no_attachments and result.status != "failed":
        started = time.monotonic()
        run_attachments = attachments or (lambda d, path: fetch_attachments(d, path, stage=stage))
        summary["attachments"] = run_attachments(docket_id, str(db))
        summary["attachments_seconds"] = time.monotonic() - started
    return summary


# --------------------------------------------------------------------------- attachments


class Batches(Protocol):
    """Where attachment batches run when they may run elsewhere (a Dask cluster: flows/attachments.py).

    The same shape as `concurrent.futures` and Dask's client: `map` starts
    `fn(*one_of_each_list, **kwargs)` for each position of the lists and
    returns futures, `submit` starts one call, `as_completed` yields futures
    as they finish. `name` is the task's name where runs are recorded.
    """

    def map(self, name: str, fn: Callable, *lists: list, **kwargs: Any) -> list: ...

    def submit(self, name: str, fn: Callable, *args: Any, **kwargs: Any) -> Any: ...

    def as_completed(self, futures: list) -> Any: ...


def fetch_attachments(
    docket_id: str,
    db: str | Path,
    workers: int | None = None,
    retry_failed: bool = False,
    batch_files: int = BATCH_FILES,
    *,
    progress: ProgressFn = noop,
    stage: Stage = direct,
    batches: Batches | None = None,
    pacer: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Download and extract every pending attachment of `docket_id`, `batch_files` files per stage.

    With `batches`, downloads and extractions run as batches that touch no
    database, wherever `batches` runs them (`workers` extraction processes
    each), and this process writes what comes back. `pacer()` is called before
    every download request (a rate limit shared with other processes; it must
    pickle when `batches` runs elsewhere).
    """
    db = str(db)
    # the docket's own documents first (the notice's text seeds the codebook)
    notice = stage("fetch-document-texts", _document_texts, docket_id, db, retry_failed)
    if batches is not None:
        totals = _attachments_in_batches(docket_id, db, workers, retry_failed, batch_files, batches, pacer, progress)
        return {**{f"document_texts_{status}": n for status, n in notice.items()}, **totals}
    pending = stage("count-pending-attachments", _count_pending, docket_id, db, retry_failed)
    progress(0, total=pending)

    def advance(n: int = 1, total: int | None = None) -> None:
        progress(n)  # the total is set once above; each batch would reset it to its own size

    totals: dict[str, int] = {f"document_texts_{status}": n for status, n in notice.items()}
    for _ in range(-(-pending // batch_files)):  # ceil: each batch finishes its files
        counts = stage("process-attachment-batch", _process_batch, docket_id, db, batch_files, workers, retry_failed,
                       advance, pacer)
        for key, value in counts.items():
            totals[key] = value if key == "stopped" else totals.get(key, 0) + value
        if counts.get("stopped") or counts.get("processed", 0) < batch_files:
            break  # all done, or the download host cannot be reached (the rest stay pending)
    return totals


def _document_texts(docket_id: str, db: str, retry_failed: bool) -> dict[str, int]:
    from comments.attachments import files_dir_for
    from comments.attachments.pipeline import fetch_document_texts

    con = store.connect(db)
    try:
        return fetch_document_texts(con, docket_id, files_dir=files_dir_for(db), retry_failed=retry_failed)
    finally:
        con.close()


def _count_pending(docket_id: str, db: str, retry_failed: bool) -> int:
    from comments.attachments.pipeline import pending_count

    with store.reading(db) as con:
        return pending_count(con, docket_id, retry_failed=retry_failed)


def _process_batch(
    docket_id: str, db: str, limit: int, workers: int | None, retry_failed: bool, progress: ProgressFn,
    pacer: Callable[[], None] | None = None,
) -> dict[str, int]:
    from comments.attachments import files_dir_for, process_attachments

    con = store.shared(db)  # let go while files download and extract
    try:
        return process_attachments(
            con, docket_id, files_dir=files_dir_for(db), workers=workers, limit=limit, retry_failed=retry_failed,
            progress=progress, pacer=pacer,
        )
    finally:
        con.close()


def _attachments_in_batches(
    docket_id: str, db: str, workers: int | None, retry_failed: bool, batch_files: int, batches: Batches,
    pacer: Callable[[], None] | None, progress: ProgressFn,
) -> dict[str, int]:
    """Downloads mapped over batches of files, each batch's extraction submitted as its files arrive.

    This process reads what is pending once, then writes each batch's files
    and results as they come back (a short hold of the database each time).
    """
    from comments.attachments import files_dir_for
    from comments.attachments import pipeline as ap

    files_dir = str(files_dir_for(db))
    with store.reading(db) as con:
        rows = ap.pending_rows(con, docket_id, retry_failed=retry_failed)
        known = ap.known_files(con, [r["url"] for r in rows if r["url"]])
    progress(0, total=len(rows))
    chunks = [rows[i : i + batch_files] for i in range(0, len(rows), batch_files)]
    totals: dict[str, int] = {}

    def add(counts: dict[str, int]) -> None:
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value

    def write(result_rows: list[dict], new_files: list[dict] = (), lookup: list[dict] = ()) -> dict:
        with closing(store.connect(db)) as con:
            ap.save_files(con, list(new_files))
            ap.write_results(con, result_rows)
            done = ap.known_extractions(con, [r["sha256"] for r in lookup])
        add(ap.tally(result_rows))
        progress(len(result_rows))
        return done

    downloads = batches.map(
        "download-attachment-batch", ap.download_batch, chunks,
        [{r["url"]: known[r["url"]] for r in chunk if r["url"] in known} for chunk in chunks],
        files_dir=files_dir, pacer=pacer,
    )
    extractions = []
    for future in batches.as_completed(downloads):
        out = future.result()
        add(out["counts"])
        done = write(out["finished"], out["new_files"], out["to_extract"])
        if out["to_extract"]:
            extractions.append(batches.submit(
                "extract-attachment-batch", ap.extract_batch, out["to_extract"], done, files_dir, workers=workers or 1,
            ))
    for future in batches.as_completed(extractions):
        write(future.result())
    counts = {s: totals.get(s, 0) for s in ap.FINAL_STATUSES}
    return {**counts, "processed": sum(counts.values()),
            **{k: totals.get(k, 0) for k in ("downloaded", "reused", "bytes_downloaded", "requests")}}


# --------------------------------------------------------------------------- analysis and briefing


def analyze(
    docket_id: str, db: str | Path, overrides: dict[str, str] | None = None, *, progress: ProgressFn = noop,
    stage: Stage = direct,
) -> dict:
    """Campaigns, themes, stance, commenters and bursts in one stage (one transaction); a summary dict."""
    return stage("analyze-docket", _analyze, docket_id, str(db), overrides, progress)


def _analyze(docket_id: str, db: str, overrides: dict[str, str] | None, progress: ProgressFn) -> dict:
    from comments.analysis.codebook import find_codebook
    from comments.analysis.pipeline import AnalysisParams
    from comments.analysis.pipeline import analyze_docket as run_analysis

    params = AnalysisParams.from_overrides(overrides)
    codebook = find_codebook(db, docket_id)
    con = store.connect(db)
    try:
        result = run_analysis(con, docket_id, params=params, progress=progress, codebook=codebook)
    finally:
        con.close()
    return {
        "run_id": result.run_id, "comments": result.comments, "unique_texts": result.unique_texts,
        "campaigns": result.campaigns, "campaign_members": result.campaign_members,
        "singletons": result.singletons, "themes": result.themes, "bursts": result.bursts,
        "summary": result.summary(), "notes": list(result.notes),
    }


def brief(
    docket_id: str, db: str | Path, out: str | Path, show_names: bool = False, *, changes: dict | None = None,
    stage: Stage = direct,
) -> dict:
    """Write the briefing to `out` (.html, .md or .docx); returns what it gathered (`write_briefing`).

    `changes` (a `record_changes` result) opens the briefing with what changed since the last run.
    """
    return stage("write", _write_brief, docket_id, str(db), str(out), show_names, changes)


def record_changes(docket_id: str, db: str | Path, out_dir: str | Path, *, stage: Stage = direct) -> dict:
    """Diff the docket with its last tracking snapshot, save the new one, write `<out_dir>/<DOCKET>.changes.md`."""
    return stage("what changed", _record_changes, docket_id, str(db), str(out_dir))


def briefing_changes(changes: dict | None) -> dict | None:
    """What `write_briefing(changes=...)` takes, from a `record_changes` result: the diff and the run times."""
    if not changes or "diff" not in changes:
        return None
    return {**changes["diff"], "previous_run_at": changes.get("previous_run_at"), "run_at": changes.get("run_at")}


def _record_changes(docket_id: str, db: str, out_dir: str) -> dict:
    from comments.briefing.changes_file import record_changes as record

    with closing(store.connect(db)) as con:
        result = record(con, docket_id, out_dir=out_dir)
    return {
        "docket_id": docket_id,
        "path": str(result.path) if result.path else None,
        "first_run": result.changes["first_run"],
        "new_comments": len(result.changes["new_comments"]),
        "new_campaigns": [c["campaign_id"] for c in result.changes["new_campaigns"]],
        "grown_campaigns": [c["campaign_id"] for c in result.changes["grown_campaigns"]],
        "new_themes": [t["theme_id"] for t in result.changes["new_themes"]],
        "grown_themes": [t["theme_id"] for t in result.changes["grown_themes"]],
        "stance_shifts": len(result.changes["stance"]["shifted"]),
        "markdown": result.markdown,
        "diff": result.changes,   # the whole diff_states() result
        "run_at": result.run_at.isoformat(),
        "previous_run_at": result.previous_run_at.isoformat() if result.previous_run_at else None,
    }


def brief_summary(brief: dict, out: str | Path) -> dict:
    """What the CLI and the flow return for a briefing: its file, headline numbers and theme count."""
    return {"out": str(out), "metrics": {m["key"]: m["value"] for m in brief["metrics"]}, "themes": len(brief["themes"])}


def _write_brief(docket_id: str, db: str, out: str, show_names: bool, changes: dict | None = None) -> dict:
    from comments.briefing import write_briefing

    with store.reading(db) as con:  # the briefing only reads
        return write_briefing(con, docket_id, out, show_names=show_names, changes=briefing_changes(changes))


# --------------------------------------------------------------------------- imports


def import_bulk_csv(path: str | Path, db: str | Path, *, progress: ProgressFn = noop, stage: Stage = direct) -> dict:
    """One regulations.gov bulk-download CSV; returns the ImportReport's fields."""
    return stage("import-bulk-csv", _import_bulk_csv, str(path), str(db), progress)


def import_mirrulations(
    root: str | Path, db: str | Path, docket_id: str | None = None, *, progress: ProgressFn = noop,
    stage: Stage = direct,
) -> dict:
    """A Mirrulations-layout directory (one docket with `docket_id`); returns the ImportReport's fields."""
    return stage("import-mirrulations", _import_mirrulations, str(root), str(db), docket_id, progress)


def _import_bulk_csv(path: str, db: str, progress: ProgressFn) -> dict:
    from comments.importers.bulk_csv import import_bulk_csv as run_import

    con = store.connect(db)
    try:
        return asdict(run_import(con, path, progress=progress))
    finally:
        con.close()


def _import_mirrulations(root: str, db: str, docket_id: str | None, progress: ProgressFn) -> dict:
    from comments.importers.mirrulations import import_mirrulations as run_import

    con = store.connect(db)
    try:
        return asdict(run_import(con, root, docket_id=docket_id, progress=progress))
    finally:
        con.close()
