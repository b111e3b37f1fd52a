"""Prefect flow `track`: every docket of a watchlist, synced, analyzed, briefed, and what changed.

Thin wiring over `comments.tracking`: one task per stage per docket (sync,
attachments, analyze, changes, brief) and one per watchlist search, each a
short call into the library with plain parameters. A docket whose stage
fails is reported and the other dockets go on; the flow run fails at the end
if any docket failed, so the Prefect UI shows it.

Run it once:            python -m flows.track run --watchlist watchlist.toml
Serve it on a schedule: python -m flows.track serve --watchlist watchlist.toml [--cron "0 6 * * *"]
(or `comments track --serve`). See docs/tracking.md for a real Prefect server and workers.
"""

from __future__ import annotations  # noqa: I001  (flows must load before prefect)

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)

import argparse
import os
import sys
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from comments import terminal, tracking

DEPLOYMENT_NAME = "daily-watchlist"
DEFAULT_CRON = "0 6 * * *"  # daily, 06:00 in the schedule's time zone
DEFAULT_TIMEZONE = "UTC"
DEFAULT_WATCHLIST = "watchlist.toml"


def default_watchlist() -> str:
    return os.environ.get("COMMENTS_WATCHLIST") or DEFAULT_WATCHLIST


def _expected(step, *args, **kwargs) -> dict:
    """Run a stage; a problem the user can fix (unknown docket, bad key, ...) becomes {"error": one line}.

    Those are reported in the run's summary and make the flow run Failed with a
    message, without a traceback; anything else is a bug and raises as usual.
    """
    from comments.client import ApiError
    from comments.errors import UserError

    try:
        return step(*args, **kwargs)
    except (UserError, ApiError) as exc:
        return {"error": " ".join(str(exc).split()) or type(exc).__name__}


@task(name="sync", cache_policy=NO_CACHE)
def sync_task(db: str, docket_id: str, max_comments: int | None = None) -> dict:
    return _expected(tracking.sync_step, db, docket_id, max_comments=max_comments)


@task(name="attachments", cache_policy=NO_CACHE)
def attachments_task(db: str, docket_id: str) -> dict:
    return _expected(tracking.attachments_step, db, docket_id)


@task(name="analyze", cache_policy=NO_CACHE)
def analyze_task(db: str, docket_id: str) -> dict:
    return _expected(tracking.analyze_step, db, docket_id)


@task(name="what changed", cache_policy=NO_CACHE)
def changes_task(db: str, docket_id: str, out_dir: str) -> dict:
    return _expected(tracking.changes_step, db, docket_id, out_dir)


@task(name="brief", cache_policy=NO_CACHE)
def brief_task(db: str, docket_id: str, out_dir: str, fmt: str, changes: dict | None = None) -> dict:
    return _expected(tracking.brief_step, db, docket_id, out_dir, fmt, changes)


@task(name="watchlist search", cache_policy=NO_CACHE)
def search_task(db: str, search: tracking.SearchEntry) -> dict:
    return _expected(tracking.search_step, db, search)


@flow(name="track", log_prints=False, validate_parameters=True)
def track(
    watchlist: str | None = None,
    db: str | None = None,
    skip: list[str] | None = None,
    max_comments: int | None = None,
) -> dict:
    """Run the watchlist once; returns {summary, dockets: [...], searches: [...]}.

    When a docket failed, the run ends Failed (the others were still tracked)
    and a direct call raises `comments.tracking.TrackingFailed`.
    """
    from comments import settings

    wl = tracking.load_watchlist(watchlist or default_watchlist())
    db_path = str(Path(db) if db else (wl.db or settings.db_path()))
    out_dir = str(wl.out_dir)
    skip_set = set(skip or ())
    result = tracking.WatchlistRun()

    extra: list[str] = []
    for search in wl.searches:
        found = search_task(db_path, search)
        if "error" in found:
            result.search_errors.append(f"“{search.term}”: {found['error']}")
            continue
        result.searches.append(found)
        if search.sync:
            extra += [f["docket_id"] for f in found["found"] if f.get("docket_id")]
    if result.searches or result.search_errors:
        result.searches_path = tracking.write_searches_markdown(out_dir, result)

    stages = {
        "sync": lambda d, steps: sync_task(db_path, d, max_comments),
        "attachments": lambda d, steps: attachments_task(db_path, d),
        "analyze": lambda d, steps: analyze_task(db_path, d),
        "changes": lambda d, steps: changes_task(db_path, d, out_dir),
        # the briefing opens with what changed, so it gets this run's changes
        "brief": lambda d, steps: brief_task(db_path, d, out_dir, wl.brief_format, steps.get("changes")),
    }
    dockets = list(dict.fromkeys(wl.dockets + [d for d in extra if tracking.DOCKET_ID.match(d)]))
    for docket_id in dockets:
        run = tracking.DocketRun(docket_id)
        for name, stage in stages.items():
            if name in skip_set:
                continue
            outcome = stage(docket_id, run.steps)
            if isinstance(outcome, dict) and "error" in outcome:  # this docket stops here; the others go on
                run.error = f"{name}: {outcome['error']}"
                break
            run.steps[name] = outcome
        result.dockets.append(run)
        if run.changes:
            create_markdown_artifact(
                markdown=run.changes["markdown"],
                key=_artifact_key(docket_id),
                description=f"What changed in {docket_id} since the last tracking run",
            )

    create_table_artifact(
        table=[
            {
                "docket": d.docket_id,
                "status": "failed" if d.error else "ok",
                "new comments": (d.changes or {}).get("new_comments"),
                "new campaigns": len((d.changes or {}).get("new_campaigns", [])),
                "grown campaigns": len((d.changes or {}).get("grown_campaigns", [])),
                "new themes": len((d.changes or {}).get("new_themes", [])),
                "briefing": (d.steps.get("brief") or {}).get("path"),
                "error": d.error,
            }
            for d in result.dockets
        ],
        key="tracking-summary",
        description=result.summary(),
    )
    summary = {
        "summary": result.summary(),
        "dockets": [{"docket_id": d.docket_id, "error": d.error, "changes": _strip(d.changes)} for d in result.dockets],
        "searches": [{"term": s["search"].term, "found": len(s["found"]), "new": len(s["new"])} for s in result.searches],
        "searches_path": str(result.searches_path) if result.searches_path else None,
    }
    if result.failed:
        # A Failed state with a message: the run shows as failed in the UI, the
        # caller gets TrackingFailed, and no traceback is printed for a user's typo.
        return Failed(message=result.summary(), data=tracking.TrackingFailed(result.summary()))
    return summary


def _artifact_key(docket_id: str) -> str:
    # Prefect artifact keys: lowercase letters, digits and dashes.
    return "changes-" + "".join(ch if ch.isalnum() else "-" for ch in docket_id.lower())


def _strip(changes: dict | None) -> dict | None:
    # The Markdown and the full diff (every new comment id) stay in the files and artifacts.
    return None if changes is None else {k: v for k, v in changes.items() if k not in ("markdown", "diff")}


def serve(
    watchlist: str | None = None,
    db: str | None = None,
    *,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    name: str = DEPLOYMENT_NAME,
    limit: int | None = None,
) -> None:
    """Serve the `track` deployment on a schedule (blocks; Ctrl-C stops serving).

    Needs a Prefect API (PREFECT_API_URL) to be useful: runs are scheduled and
    shown there, and `prefect deployment run track/daily-watchlist` starts one now.
    """
    parameters = {"watchlist": str(Path(watchlist or default_watchlist()).resolve())}
    if db:
        parameters["db"] = str(Path(db).resolve())
    track.serve(
        name=name,
        cron=cron or None,
        parameters=parameters,
        description="Sync, analyze and brief every watchlist docket; write what changed since the last run.",
        tags=["comments", "tracking"],
        limit=limit,
        **({"timezone": timezone} if cron and _serve_takes_timezone() else {}),
    )


def _serve_takes_timezone() -> bool:
    import inspect

    return "timezone" in inspect.signature(track.serve).parameters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.track", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--watchlist", default=None, help=f"TOML watchlist (default $COMMENTS_WATCHLIST or {DEFAULT_WATCHLIST})")
        p.add_argument("--db", default=None, help="DuckDB file (default: the watchlist's settings.db, $COMMENTS_DB)")
        if name == "serve":
            p.add_argument("--cron", default=DEFAULT_CRON, help=f"schedule (default {DEFAULT_CRON!r}, daily)")
            p.add_argument("--timezone", default=DEFAULT_TIMEZONE)
            p.add_argument("--name", default=DEPLOYMENT_NAME)
    args = parser.parse_args(argv)
    if args.command == "serve":
        tracking.load_watchlist(args.watchlist or default_watchlist())  # fail fast on a bad file
        serve(args.watchlist, args.db, cron=args.cron, timezone=args.timezone, name=args.name)
        return 0
    out = track(watchlist=args.watchlist, db=args.db)
    terminal.echo(out["summary"])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
