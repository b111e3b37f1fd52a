"""Prefect flows: import a bulk-download CSV or a Mirrulations copy into the store.

Thin: the stages are `comments.runs.import_bulk_csv` / `import_mirrulations`
(one task each: the CSV import is one SQL pass; the Mirrulations import
batches 1,000 files per save). (Importing `flows.imports` runs
`flows/__init__.py` first: quiet Prefect defaults.)
"""

from __future__ import annotations

from prefect import flow

from comments import runs, settings
from comments.progress import noop
from flows.stages import as_task

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


@flow(name="import-bulk-csv")
def import_bulk_csv_flow(path: str, db: str | None = None) -> dict:
    """Import one regulations.gov bulk-download CSV; returns the report's counts."""
    return runs.import_bulk_csv(path, settings.db_path(db), progress=hooks["progress"], stage=as_task)


@flow(name="import-mirrulations")
def import_mirrulations_flow(root: str, db: str | None = None, docket_id: str | None = None) -> dict:
    """Import a Mirrulations-layout directory (one docket with docket_id); returns the report's counts."""
    return runs.import_mirrulations(root, settings.db_path(db), docket_id, progress=hooks["progress"], stage=as_task)
