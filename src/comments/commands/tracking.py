"""CLI commands for tracking: `comments discover`, `comments track`."""

from __future__ import annotations

from typing import Annotated

import typer

from comments import terminal
from comments.errors import UserError

DB_HELP = "DuckDB file (default: the watchlist's settings.db, else $COMMENTS_DB or data/comments.duckdb)."


def discover_command(
    term: Annotated[str, typer.Option("--term", "-t", help='Words to search for, e.g. "system of records".')],
    agency: Annotated[str | None, typer.Option("--agency", "-a", help="Agency id, e.g. DHS, SSA, CMS.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only documents open for comment now.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many documents (and dockets).")] = 10,
    counts: Annotated[bool, typer.Option("--counts/--no-counts", help="Count each find's comments (one request each).")] = True,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json (one object per line).")] = "text",
) -> None:
    """Find dockets and documents on regulations.gov, with their comment counts."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from comments.client import ApiError, RegulationsClient
    from comments.discover import discover

    if output not in ("text", "json"):
        raise UserError("--output must be text or json")
    try:
        found = discover(RegulationsClient(), term, agency=agency, open_only=open_only, limit=limit, count_comments=counts)
    except ApiError as exc:
        raise UserError(f"regulations.gov search failed: {exc.describe()}") from None
    if output == "json":
        for item in found.items:
            terminal.echo(terminal.json_line(item))
        return
    console = Console(highlight=False)
    where = f" ({found.agency})" if found.agency else ""
    scope = ", open for comment" if open_only else ""
    if not found.items:
        console.print(terminal.text(f"nothing found for {term!r}{where}{scope}"))
        return
    # API text (titles) is untrusted: cells are cleaned Text objects, never markup.
    for kind, items in (("Dockets", found.dockets), ("Documents", found.documents)):
        if not items:
            continue
        table = Table(title=terminal.text(f"{kind} matching {term!r}{where}{scope}"), title_justify="left")
        table.add_column("id", no_wrap=True)
        table.add_column("title")
        if kind == "Documents":
            table.add_column("type")
            table.add_column("comments close", no_wrap=True)
        table.add_column("comments", justify="right")
        for it in items:
            count = "?" if it["comment_count"] is None else f"{it['comment_count']:,}"
            row = [terminal.text(it["id"]), terminal.text(it.get("title") or "")]
            if kind == "Documents":
                row += [terminal.text(it.get("document_type") or ""), terminal.text(str(it.get("comment_end_date") or "")[:10])]
            row.append(Text(count))
            table.add_row(*row)
        console.print(table)
    failures = f"; {found.count_failures} counts failed" if found.count_failures else ""
    console.print(Text(f"{found.requests} requests{failures}", style="dim"))


def track_command(
    watchlist: Annotated[str | None, typer.Option("--watchlist", "-w", help="TOML watchlist (default $COMMENTS_WATCHLIST or watchlist.toml).")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the scheduled Prefect deployment instead of running once.")] = False,
    cron: Annotated[str, typer.Option("--cron", help="Schedule for --serve (cron, default daily 06:00 UTC).")] = "0 6 * * *",
    max_comments: Annotated[int | None, typer.Option("--max-comments", help="Stop each sync after N new comments.")] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Skip a stage (repeatable): sync, attachments, analyze, brief.")] = None,
) -> None:
    """Sync, analyze and brief every watchlist docket; write what changed since the last run."""
    from comments import watchlist as watchlists

    stages = ("sync", "attachments", "analyze", "brief")
    bad = [s for s in (skip or []) if s not in stages]
    if bad:
        raise UserError(f"--skip takes {', '.join(stages)}; got {', '.join(bad)}")
    path = watchlist
    if path is None:
        path = watchlists.default_watchlist()
    watchlists.load_watchlist(path)  # a bad file is a one-line error before Prefect starts
    from comments.commands import runner

    if serve:  # a deployment: Prefect's, whatever COMMENTS_PREFECT says
        terminal.echo(f"serving the track deployment (schedule {cron!r}); Ctrl-C to stop")
        runner.flow_module("track").serve(path, db, cron=cron)
        return
    try:
        result = runner.run(_track_directly, "track:track", watchlist=path, db=db, max_comments=max_comments,
                            skip=list(skip or []))
    except watchlists.TrackingFailed as exc:  # some dockets failed: the others were tracked
        raise UserError(str(exc)) from None
    for d in result["dockets"]:
        c = d["changes"]
        if c and c.get("path"):
            terminal.echo(f"{d['docket_id']}: what changed -> {c['path']}")
    if result["searches_path"]:
        terminal.echo(f"watchlist searches -> {result['searches_path']}")
    terminal.echo(result["summary"])


def _track_directly(watchlist: str, db: str | None, max_comments: int | None, skip: list[str]) -> dict:
    """The watchlist run the `track` flow makes, without Prefect (its artifacts are Prefect's own)."""
    from comments import watchlist as watchlists

    result = watchlists.run_watchlist(watchlists.load_watchlist(watchlist), db=db, skip=tuple(skip), max_comments=max_comments)
    if result.failed:
        raise watchlists.TrackingFailed(result.summary())
    return watchlists.run_summary(result)


def register(app: typer.Typer) -> None:
    app.command("discover")(discover_command)
    app.command("track")(track_command)
