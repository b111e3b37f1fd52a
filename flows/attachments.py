"""Prefect flow: download a docket's attachment files and extract their text.

Thin: the stages are `comments.runs.fetch_attachments` (count what is
pending, then one task per batch of files). (Importing `flows.attachments`
runs `flows/__init__.py` first: quiet Prefect defaults.)
"""

from __future__ import annotations

from prefect import flow

from comments import runs, settings
from comments.progress import noop
from flows.stages import as_task

BATCH_FILES = runs.BATCH_FILES

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


@flow(name="fetch-attachments")
def fetch_attachments(
    docket_id: str,
    db: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    batch_files: int = BATCH_FILES,
) -> dict[str, int]:
    """Download and extract every pending attachment of `docket_id`, `batch_files` files per task."""
    return runs.fetch_attachments(
        docket_id, settings.db_path(db), workers, retry_failed, batch_files, progress=hooks["progress"], stage=as_task,
    )
