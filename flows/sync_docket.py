"""Prefect flow `sync-docket`: regulations.gov -> DuckDB, one task per stage.

Thin wiring over `comments.sync`: each task is one stage of `DocketSync`
(metadata, earlier failures, comment list + details, bookkeeping). Tasks get
the live objects in-process and cache nothing (`NO_CACHE`): a task run costs
~10 ms and the comment stage checkpoints every page itself, so a task per
comment would only add overhead. Retries of single requests live in the
client, not in Prefect.

The API key is never a flow parameter (parameters are stored by Prefect):
the client reads it from the environment.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)
from comments import store
from comments.client import RegulationsClient
from comments.progress import noop
from comments.sync import DocketSync, SyncResult

# The CLI sets these for the run in its own process (callables cannot be flow
# parameters): the progress callback and a hook told about rate-limit waits.
hooks = {"progress": noop, "on_wait": None}


@task(name="docket and documents", cache_policy=NO_CACHE)
def metadata_stage(run: DocketSync) -> None:
    run.start()
    run.metadata()


@task(name="retry earlier failures", cache_policy=NO_CACHE)
def retry_stage(run: DocketSync) -> None:
    run.retry_failed()


@task(name="comments: list, fetch new and changed, save per page", cache_policy=NO_CACHE)
def comments_stage(run: DocketSync) -> None:
    if not run.stopped:
        run.comments()


@task(name="attachments", cache_policy=NO_CACHE)
def attachments_stage(db: str, docket_id: str):
    # ---- HOOK for the attachment stage (helper C's comments.attachments) ----
    # The lead wires the exact call (files_dir, workers, ...); until
    # `process_attachments` exists this is a no-op. Files go next to the database.
    try:
        from comments import attachments
    except ImportError:
        return None
    process = getattr(attachments, "process_attachments", None)
    if process is None:
        return None
    con = store.connect(db)
    try:
        return process(con, docket_id, files_dir=Path(db).parent / "files", progress=hooks["progress"])
    finally:
        con.close()
    # ---- end HOOK ----


@flow(name="sync-docket", log_prints=False, validate_parameters=True)
def sync_docket(
    docket_ids: list[str],
    db: str | None = None,
    max_comments: int | None = None,
    no_attachments: bool = False,
    base_url: str | None = None,
) -> list[dict]:
    """Bring each docket up to date in the DuckDB file `db`; returns one summary dict per docket."""
    from comments import settings

    db_path = str(settings.db_path(db))
    client = RegulationsClient(base_url=base_url, on_wait=hooks["on_wait"])
    results: list[dict] = []
    for docket_id in docket_ids:
        con = store.connect(db_path)
        run = DocketSync(con, client, docket_id, max_comments=max_comments, progress=hooks["progress"])
        try:
            metadata_stage(run)
            retry_stage(run)
            comments_stage(run)
        except BaseException as exc:
            run.finish(exc)
            con.close()
            raise
        result: SyncResult = run.finish()
        con.close()
        results.append(result.as_dict())
        if not no_attachments:
            attachments_stage(db_path, docket_id)
    return results
