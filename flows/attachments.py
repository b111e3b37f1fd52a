"""Prefect flow: download a docket's attachment files and extract their text.

Thin: the stages are `comments.runs.fetch_attachments`. (Importing
`flows.attachments` runs `flows/__init__.py` first: quiet Prefect defaults.)
Two ways to run them:

- In this process (the default for `comments sync` and `comments attachments`):
  one task per batch of `batch_files` files, each downloading on a few threads
  and extracting on every core.
- On a Dask cluster (`dask=True` or `dask_address=...`; the
  `extract-attachments` deployment): a subflow on a `prefect-dask`
  DaskTaskRunner, a LocalCluster unless `dask_address` names a scheduler.
  Downloads are tasks mapped over batches of files, each batch's extraction
  a task submitted as its files arrive; they touch no database, and this
  flow writes what comes back (`comments.runs.Batches`). Workers must see the
  file store (`<db>.files/`: shared storage on several machines). Every file
  is still extracted in a child process under the per-file time limit and
  memory cap, so Dask workers must be allowed children: the LocalCluster is
  started so; a cluster of your own needs
  `DASK_DISTRIBUTED__WORKER__DAEMON=False` on its workers.

With shared limits on (flows/limits.py) the docket's one-writer limit is held
for the run, and every download takes a slot of the shared `regs-downloads`
rate limit.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

from prefect import flow

from comments import runs
from comments.progress import noop
from flows import limits, runtime
from flows.stages import TaskBatches, as_task

BATCH_FILES = runs.BATCH_FILES
DASK_BATCH_FILES = 100  # smaller batches on Dask: more of them to spread over the workers (each a task: ~0.5 s)

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


@flow(name="fetch-attachments")
def fetch_attachments(
    docket_id: str,
    db: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    batch_files: int | None = None,
    dask: bool = False,
    dask_address: str | None = None,
    dask_workers: int | None = None,
) -> dict[str, int]:
    """Download and extract every pending attachment of `docket_id`.

    `db` None: $COMMENTS_DB where the flow runs. On Dask (`dask`, or a
    scheduler at `dask_address`), `dask_workers` sizes the LocalCluster and
    `workers` is the extraction processes per task (default 1); otherwise
    `workers` is the extraction processes of this machine (default: every core).
    """
    path = runtime.db_path(db)
    with limits.docket_lock(docket_id):
        if dask or dask_address:
            return _on_dask(docket_id, path, workers, retry_failed, batch_files or DASK_BATCH_FILES,
                            dask_address, dask_workers)
        return runs.fetch_attachments(
            docket_id, path, workers, retry_failed, batch_files or BATCH_FILES, progress=hooks["progress"],
            stage=as_task, pacer=limits.download_pacer(),
        )


def _on_dask(
    docket_id: str, path: str, workers: int | None, retry_failed: bool, batch_files: int,
    address: str | None, n_workers: int | None,
) -> dict[str, int]:
    import dask
    from prefect_dask import DaskTaskRunner

    if address:
        runner = DaskTaskRunner(address=address)
        cluster_settings = nullcontext()
    else:
        runner = DaskTaskRunner(cluster_kwargs={
            "n_workers": n_workers or os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None,
        })
        # extraction runs each file in a child process (time and memory limits): workers may have children
        cluster_settings = dask.config.set({"distributed.worker.daemon": False})
    with cluster_settings:
        return extract_on_dask.with_options(task_runner=runner)(docket_id, path, workers or 1, retry_failed, batch_files)


@flow(name="extract-attachments-on-dask")
def extract_on_dask(docket_id: str, db: str, workers: int, retry_failed: bool, batch_files: int) -> dict[str, int]:
    """The attachment stages with their batches as tasks on this flow's Dask cluster."""
    return runs.fetch_attachments(
        docket_id, db, workers, retry_failed, batch_files, progress=hooks["progress"], stage=as_task,
        batches=TaskBatches(), pacer=limits.download_pacer(),
    )
