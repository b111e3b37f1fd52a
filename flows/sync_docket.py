"""Prefect flow `sync-docket`: regulations.gov -> DuckDB, one task per stage.

Thin wiring over `comments.runs.sync_docket`: each stage of
`comments.sync.STAGES` (metadata, earlier failures, comment list + details)
becomes a task, then the attachment flow runs as a subflow. Tasks get the
live objects in-process and cache nothing: a task run costs ~10 ms and the
comment stage checkpoints every page itself, so a task per comment would only
add overhead. Retries of single requests live in the client, not in Prefect.

The API key is never a flow parameter (parameters are stored by Prefect):
the client reads it from the environment. So does the database: `db` None
means $COMMENTS_DB of the worker that runs the flow, read at run time.

With shared limits on (a Prefect server: flows/limits.py) every request
waits for a slot of its key's shared rate limit, and each docket is synced
under its one-writer limit. The database is held only while a page is saved
(`store.shared`), so other workers and `comments status` use it meanwhile.
"""

from __future__ import annotations

from prefect import flow

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)
from comments import runs
from comments.client import RegulationsClient
from comments.progress import noop
from flows import attachments as attachment_flow
from flows import limits, runtime
from flows.stages import as_task

# The CLI sets these for the run in its own process (callables cannot be flow
# parameters): the progress callback, a hook told about rate-limit waits, and
# a factory for the attachment stage's own bar (`new_bar(description, unit)`).
hooks = {"progress": noop, "on_wait": None, "new_bar": None}


def attachments_stage(docket_id: str, db: str) -> dict[str, int]:
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
    db_path = runtime.db_path(db)
    client = RegulationsClient(base_url=base_url, on_wait=hooks["on_wait"], pacer=limits.key_pacer())
    results: list[dict] = []
    for docket_id in docket_ids:
        with limits.docket_lock(docket_id):
            results.append(runs.sync_docket(
                db_path, client, docket_id, max_comments=max_comments, no_attachments=no_attachments,
                progress=hooks["progress"], attachments=attachments_stage, stage=as_task,
            ))
    return results
