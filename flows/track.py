"""Prefect flow `track`: every docket of a watchlist, synced, analyzed, briefed, and what changed.

Thin wiring over `comments.tracking.run_watchlist` (the one definition of a
tracking run's steps): one task per step per docket (sync, attachments,
analyze, what changed, brief) and one per watchlist search, each a short call
into the library with plain parameters; then the artifacts. A docket whose
step fails is reported and the other dockets go on; the flow run fails at the
end if any docket failed, so the Prefect UI shows it.

Run it once:            python -m flows.track run --watchlist watchlist.toml
Serve it on a schedule: python -m flows.track serve --watchlist watchlist.toml [--cron "0 6 * * *"]
(or `comments track --serve`). See docs/tracking.md for a real Prefect server and workers.
"""

from __future__ import annotations  # noqa: I001  (flows must load before prefect)

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)

import argparse
import sys
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed

from comments import terminal, tracking
from flows.stages import as_task

DEPLOYMENT_NAME = "daily-watchlist"
DEFAULT_CRON = "0 6 * * *"  # daily, 06:00 in the schedule's time zone
DEFAULT_TIMEZONE = "UTC"
DEFAULT_WATCHLIST = tracking.DEFAULT_WATCHLIST
default_watchlist = tracking.default_watchlist


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
    wl = tracking.load_watchlist(watchlist or default_watchlist())
    result = tracking.run_watchlist(wl, db=db, skip=tuple(skip or ()), max_comments=max_comments, stage=as_task)
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
        return Failed(message=result.summary(), data=tracking.TrackingFailed(result.summary()))
    return tracking.run_summary(result)


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
