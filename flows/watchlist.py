"""Prefect flow `plan-watchlist`: a watchlist run fanned out over a work pool's workers.

The deployment `plan-watchlist/daily-watchlist` (prefect.yaml) runs it. It
runs the watchlist's searches here, plans the watchlist
(`comments.watchlist.plan_dockets`: its dockets, and what its searches found
and marked `sync = true`) and starts each docket's stages as runs of the
project's other deployments with `run_deployment` (`comments.watchlist.fan_out`):

    sync-docket/sync -> fetch-attachments/extract-attachments -> analyze_docket/analyze -> brief_docket/brief

Every docket's chain runs at once (or `parallel` at a time), so N workers
serve N dockets; one docket's stages run in order, each after the last ended
Completed. A stage run that ended Crashed (its process died: a lost machine,
a kill) is started again, up to `crash_reruns` times: a sync resumes where it
stopped, and its one-writer limit keeps the new run from overlapping the dead
one until that one's lease lapses. A stage that fails ends its docket; the
others go on; the planner's run ends Failed when a docket failed.

Paths: the watchlist is read where the planner runs ($COMMENTS_WATCHLIST when
not given); the database is the watchlist's `settings.db` (or `db`), else each
stage run's own $COMMENTS_DB; briefings go to the watchlist's `out_dir`. Every
worker must see those paths (one machine, or shared storage).

`comments track` (flows/track.py) runs the same plan in one process, without
deployments.
"""

from __future__ import annotations  # noqa: I001  (flows must load before prefect)

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.deployments import run_deployment
from prefect.states import Failed

from comments import watchlist as wl_lib
from flows import limits, runtime
from flows.stages import as_task

# stage -> the deployment that runs it (the "changes" stage is part of the brief run)
DEPLOYMENTS = {
    "sync": "sync-docket/sync",
    "attachments": "fetch-attachments/extract-attachments",
    "analyze": "analyze_docket/analyze",
    "brief": "brief_docket/brief",
}
POLL_S = 2.0  # how often a waiting stage asks the server about its run


def stage_parameters(plan: wl_lib.DocketPlan, stage: str, *, dask_address: str | None = None) -> dict:
    """The deployment run's parameters for one stage of a docket's plan."""
    d = plan.docket_id
    params: dict = {
        "sync": {"docket_ids": [d], "max_comments": plan.max_comments, "no_attachments": True},
        "attachments": {"docket_id": d, "dask": True, "dask_address": dask_address},
        "analyze": {"docket_id": d},
        "brief": {"docket_id": d, "out": plan.briefing, "changes": "changes" in plan.stages},
    }[stage]
    if plan.db:
        params["db"] = plan.db
    return params


def run_stage(
    plan: wl_lib.DocketPlan, stage: str, steps: dict, *, crash_reruns: int, dask_address: str | None,
) -> dict | None:
    """Start the stage's deployment run and wait for it; a crashed run is started again."""
    if stage == "changes":
        return None  # recorded by the brief run, which opens with it
    log = get_run_logger()
    name = DEPLOYMENTS[stage]
    runs = []
    for attempt in range(crash_reruns + 1):
        run = run_deployment(
            name, parameters=stage_parameters(plan, stage, dask_address=dask_address), timeout=None,
            poll_interval=POLL_S, tags=["comments", f"docket:{plan.docket_id}"],
        )
        runs.append(str(run.id))
        state = run.state
        if state is not None and state.is_completed():
            return {"flow_runs": runs, "deployment": name}
        if state is None or not state.is_crashed() or attempt == crash_reruns:
            what = state.name if state is not None else "without a state"
            message = f": {state.message}" if state is not None and state.message else ""
            return {"error": f"{name} run {run.name} ended {what}{message}", "flow_runs": runs}
        log.warning("%s: %s run %s crashed (%s); starting it again", plan.docket_id, name, run.name, state.message)
    raise AssertionError("unreachable")


@flow(name="plan-watchlist", log_prints=False, validate_parameters=True)
def plan_watchlist(
    watchlist: str | None = None,
    db: str | None = None,
    skip: list[str] | None = None,
    max_comments: int | None = None,
    parallel: int | None = None,
    crash_reruns: int = 1,
    dask_address: str | None = None,
) -> dict:
    """Run the watchlist's searches, then every docket's stages as deployment runs, `parallel` dockets at once."""
    from pathlib import Path

    wl = wl_lib.load_watchlist(runtime.watchlist_path(watchlist))
    search_db = runtime.db_path(db) if (db or not wl.db) else str(wl.db)
    result = wl_lib.Here(search_db, stage=as_task, pacer=limits.key_pacer()).searches(wl)
    plans = wl_lib.plan_dockets(
        wl, db=db or (str(Path(wl.db).resolve()) if wl.db else None), searches=result.searches,
        skip=skip or (), max_comments=max_comments,
    )
    result.dockets = wl_lib.fan_out(
        plans,
        lambda plan, stage, steps: run_stage(plan, stage, steps, crash_reruns=crash_reruns, dask_address=dask_address),
        parallel=parallel or max(1, len(plans)),
    )
    create_table_artifact(
        table=[
            {
                "docket": d.docket_id,
                "status": "failed" if d.error else "ok",
                "flow runs": ", ".join(r for s in d.steps.values() if isinstance(s, dict) for r in s.get("flow_runs", [])),
                "briefing": next((p.briefing for p in plans if p.docket_id == d.docket_id and "brief" in d.steps), None),
                "error": d.error,
            }
            for d in result.dockets
        ],
        key="watchlist-plan",
        description=result.summary(),
    )
    summary = {
        "summary": result.summary(),
        "dockets": [{"docket_id": d.docket_id, "error": d.error, "stages": list(d.steps)} for d in result.dockets],
        "searches_path": str(result.searches_path) if result.searches_path else None,
    }
    if result.failed:
        return Failed(message=result.summary(), data=wl_lib.TrackingFailed(result.summary()))
    return summary
