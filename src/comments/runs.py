"""Each pipeline command's stages, in order: the one definition both ways of running them share.

The CLI calls these functions directly when runs need not be recorded in
Prefect (`comments.commands.runner`); the flows in `flows/` call the very same
functions with a `stage` runner that makes each stage a Prefect task run. So
a run recorded in Prefect and a direct run do the same work in the same order,
and changing a command's stages means changing this file only.

`stage(name, fn, *args, **kwargs)` runs one stage and returns its result;
`direct` just calls it. Progress callbacks are plain arguments here (a flow gets them from
its module's `hooks`: callables cannot be flow parameters).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

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

    con = store.connect(db)
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


def fetch_attachments(
    docket_id: str,
    db: str | Path,
    workers: int | None = None,
    retry_failed: bool = False,
    batch_files: int = BATCH_FILES,
    *,
    progress: ProgressFn = noop,
    stage: Stage = direct,
) -> dict[str, int]:
    """Download and extract every pending attachment of `docket_id`, `batch_files` files per stage."""
    db = str(db)
    # the docket's own documents first (the notice's text seeds the codebook)
    notice = stage("fetch-document-texts", _document_texts, docket_id, db, retry_failed)
    pending = stage("count-pending-attachments", _count_pending, docket_id, db, retry_failed)
    progress(0, total=pending)

    def advance(n: int = 1, total: int | None = None) -> None:
        progress(n)  # the total is set once above; each batch would reset it to its own size

    totals: dict[str, int] = {f"document_texts_{status}": n for status, n in notice.items()}
    for _ in range(-(-pending // batch_files)):  # ceil: each batch finishes its files
        counts = stage("process-attachment-batch", _process_batch, docket_id, db, batch_files, workers, retry_failed, advance)
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

    con = store.connect(db)
    try:
        return pending_count(con, docket_id, retry_failed=retry_failed)
    finally:
        con.close()


def _process_batch(
    docket_id: str, db: str, limit: int, workers: int | None, retry_failed: bool, progress: ProgressFn
) -> dict[str, int]:
    from comments.attachments import files_dir_for, process_attachments

    con = store.connect(db)
    try:
        return process_attachments(
            con, docket_id, files_dir=files_dir_for(db), workers=workers, limit=limit, retry_failed=retry_failed,
            progress=progress,
        )
    finally:
        con.close()


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


def brief(docket_id: str, db: str | Path, out: str | Path, show_names: bool = False, *, stage: Stage = direct) -> dict:
    """Write the briefing to `out` (.html, .md or .docx); returns what it gathered (`write_briefing`)."""
    return stage("write", _write_brief, docket_id, str(db), str(out), show_names)


def brief_summary(brief: dict, out: str | Path) -> dict:
    """What the CLI and the flow return for a briefing: its file, headline numbers and theme count."""
    return {"out": str(out), "metrics": {m["key"]: m["value"] for m in brief["metrics"]}, "themes": len(brief["themes"])}


def _write_brief(docket_id: str, db: str, out: str, show_names: bool) -> dict:
    from comments.briefing import write_briefing

    con = store.connect(db)
    try:
        return write_briefing(con, docket_id, out, show_names=show_names)
    finally:
        con.close()


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
