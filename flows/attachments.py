"""Prefect flow: download a docket's attachment files and extract their text.

Thin: each task is one call into `comments.attachments`, on a batch of files.
(Importing `flows.attachments` runs `flows/__init__.py` first: quiet Prefect defaults.)
"""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from comments import settings, store
from comments.attachments import files_dir_for, process_attachments
from comments.attachments.pipeline import fetch_document_texts, pending_count
from comments.progress import noop

BATCH_FILES = 500

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


def _advance_only(n: int = 1, total: int | None = None) -> None:
    # the flow sets the bar's total once; each batch would otherwise reset it to its own size
    hooks["progress"](n)


@task(name="count-pending-attachments", cache_policy=NO_CACHE)
def count_pending(docket_id: str, db: str, retry_failed: bool) -> int:
    con = store.connect(db)
    try:
        return pending_count(con, docket_id, retry_failed=retry_failed)
    finally:
        con.close()


@task(name="fetch-document-texts", cache_policy=NO_CACHE)
def document_texts(docket_id: str, db: str, retry_failed: bool) -> dict[str, int]:
    con = store.connect(db)
    try:
        return fetch_document_texts(con, docket_id, files_dir=files_dir_for(db), retry_failed=retry_failed)
    finally:
        con.close()


@task(name="process-attachment-batch", cache_policy=NO_CACHE)
def process_batch(docket_id: str, db: str, limit: int, workers: int | None, retry_failed: bool) -> dict[str, int]:
    con = store.connect(db)
    try:
        return process_attachments(
            con, docket_id, files_dir=files_dir_for(db), workers=workers, limit=limit, retry_failed=retry_failed,
            progress=_advance_only,
        )
    finally:
        con.close()


@flow(name="fetch-attachments")
def fetch_attachments(
    docket_id: str,
    db: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    batch_files: int = BATCH_FILES,
) -> dict[str, int]:
    """Download and extract every pending attachment of `docket_id`, `batch_files` files per task."""
    path = str(settings.db_path(db))
    # the docket's own documents first (the notice's text seeds the codebook)
    notice = document_texts(docket_id, path, retry_failed)
    pending = count_pending(docket_id, path, retry_failed)
    hooks["progress"](0, total=pending)
    totals: dict[str, int] = {f"document_texts_{status}": n for status, n in notice.items()}
    for _ in range(-(-pending // batch_files)):  # ceil: each batch finishes its files
        counts = process_batch(docket_id, path, batch_files, workers, retry_failed)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        if counts.get("processed", 0) < batch_files:
            break
    return totals
