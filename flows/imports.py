"""Prefect flows: import a bulk-download CSV or a Mirrulations copy into the store.

Thin: one task per import, each a single call into `comments.importers` (the
CSV import is one SQL pass; the Mirrulations import batches 1,000 files per save).
(Importing `flows.imports` runs `flows/__init__.py` first: quiet Prefect defaults.)
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from comments import settings, store
from comments.importers.bulk_csv import import_bulk_csv
from comments.importers.mirrulations import import_mirrulations
from comments.progress import noop

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


@task(name="import-bulk-csv", cache_policy=NO_CACHE)
def bulk_csv_task(path: str, db: str) -> dict:
    con = store.connect(db)
    try:
        return asdict(import_bulk_csv(con, path, progress=hooks["progress"]))
    finally:
        con.close()


@task(name="import-mirrulations", cache_policy=NO_CACHE)
def mirrulations_task(root: str, db: str, docket_id: str | None) -> dict:
    con = store.connect(db)
    try:
        return asdict(import_mirrulations(con, root, docket_id=docket_id, progress=hooks["progress"]))
    finally:
        con.close()


@flow(name="import-bulk-csv")
def import_bulk_csv_flow(path: str, db: str | None = None) -> dict:
    """Import one regulations.gov bulk-download CSV; returns the report's counts."""
    return bulk_csv_task(str(path), str(settings.db_path(db)))


@flow(name="import-mirrulations")
def import_mirrulations_flow(root: str, db: str | None = None, docket_id: str | None = None) -> dict:
    """Import a Mirrulations-layout directory (one docket with docket_id); returns the report's counts."""
    return mirrulations_task(str(root), str(settings.db_path(db)), docket_id)
