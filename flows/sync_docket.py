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

import time

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)
from comments import store
from comments.client import RegulationsClient
from comments.progress import noop
from comments.sync import DocketSync, SyncResult
from flows import attachments as attachment_flow

# The CLI sets these for the run in its own process (callables cannot be flow
# parameters): the progress callback, a hook told about rate-limit waits, and
# a factory for the attachment stage's own bar (`new_bar(description, unit)`).
hooks = {"progress": noop, "on_wait": None, "new_bar": None}


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


def attachments_stage(db: str, docket_id: str) -> dict[str, int]:
    """The attachment flow as a subflow, with its own progress bar when the CLI offers one."""
    new_bar = hooks["new_bar"]
    attachment_flow.hooks["progress"] = new_bar(f"{docket_id} attachments", "files") if new_bar else noop
    try:
        return attachment_flow.fetch_attachments(docket_id, db)
    finally:
        attachment_flow.hooks["progress"] = noop


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
        summary = result.as_dict()
        if not no_attachments and result.status != "failed":
            started = time.monotonic()
            summary["attachments"] = attachments_stage(db_path, docket_id)
            summary["attachments_seconds"] = time.monotonic() - started
        results.append(summary)
    return results
