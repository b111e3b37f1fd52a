"""Prefect flow `track`: every docket of a watchlist, synced, analyzed, briefed, and what changed.

Thin wiring over `comments.watchlist.run_watchlist` (the one definition of a
tracking run in one process): one task per step per docket (sync,
attachments, analyze, what changed, brief) and one per watchlist search, each
a short call into the library with plain parameters; then the artifacts. A
docket whose step fails is reported and the other dockets go on; the flow run
fails at the end if any docket failed, so the Prefect UI shows it. With
shared limits on (flows/limits.py) the writing steps hold the docket's
one-writer limit and requests take slots of their key's shared rate limit,
as the deployments do. (Spread over a work pool's workers instead: the
`plan-watchlist` flow, flows/watchlist.py.)

Run it once:            python -m flows.track run --watchlist watchlist.toml
Serve it on a schedule: python -m flows.track serve --watchlist watchlist.toml [--cron "0 6 * * *"]
(or `comments track --serve`: the flow runs it starts end with it). See
docs/tracking.md and docs/scale.md for a real Prefect server and workers.
"""

from __future__ import annotations  # noqa: I001  (flows must load before prefect)

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)

import argparse
import sys
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed

from comments import processes, terminal
from comments import watchlist as watchlists
from flows import limits
from flows.stages import as_task

DEPLOYMENT_NAME = "daily-watchlist"
DEFAULT_CRON = "0 6 * * *"  # daily, 06:00 in the schedule's time zone
DEFAULT_TIMEZONE = "UTC"
DEFAULT_WATCHLIST = watchlists.DEFAULT_WATCHLIST
default_watchlist = watchlists.default_watchlist


@flow(name="track", log_prints=False, validate_parameters=True)
def track(
    watchlist: str | None = None,
    db: str | None = None,
    skip: list[str] | None = None,
    max_comments: int | None = None,
) -> dict:
    """Run the watchlist once; returns {summary, dockets: [...], searches: [...]}.

    When a docket failed, the run ends Failed (the others were still tracked)
    and a direct call raises `comments.watchlist.TrackingFailed`.
    """
    wl = watchlists.load_watchlist(watchlist or default_watchlist())
    result = watchlists.run_watchlist(
        wl, db=db, skip=tuple(skip or ()), max_comments=max_comments, stage=as_task,
        lock=limits.docket_lock if limits.enabled() else None, pacer=limits.key_pacer(),
        download_pacer=limits.download_pacer(),
    )
    for run in result.dockets:
        if run.changes:
            create_markdown_artifact(
                markdown=run.changes["markdown"],
                key=_artifact_key(run.docket_id),
                description=f"What changed in {run.docket_id} since the last tracking run",
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
    if result.failed:
        # A Failed state with a message: the run shows as failed in the UI, the
        # caller gets TrackingFailed, and no traceback is printed for a user's typo.
        return Failed(message=result.summary(), data=watchlists.TrackingFailed(result.summary()))
    return watchlists.run_summary(result)


def _artifact_key(docket_id: str) -> str:
    # Prefect artifact keys: lowercase letters, digits and dashes.
    return "changes-" + "".join(ch if ch.isalnum() else "-" for ch in docket_id.lower())


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
    The flow runs Prefect's runner starts here (processes of their own) end
    with this process, even when it is killed (`comments.processes.own_children`).
    """
    processes.own_children()
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
        watchlists.load_watchlist(args.watchlist or default_watchlist())  # fail fast on a bad file
        serve(args.watchlist, args.db, cron=args.cron, timezone=args.timezone, name=args.name)
        return 0
    out = track(watchlist=args.watchlist, db=args.db)
    terminal.echo(out["summary"])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
