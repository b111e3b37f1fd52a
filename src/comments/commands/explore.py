"""CLI commands for finding and taking out: `comments search`, `comments export`, `comments serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comments import terminal
from comments.errors import InputError


def _reading(db: str | None):
    """The database read-only for one block: a reader never takes the writer's lock (store.reading)."""
    from comments import settings, store

    return store.reading(settings.db_path(db))


def search_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to search, e.g. CMS-2022-0163.")],
    query: Annotated[str, typer.Argument(help='Words (all required), "quoted phrases", -word to exclude.')],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many comments.")] = 10,
    any_word: Annotated[bool, typer.Option("--any", help="Match comments with any of the words, not all.")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="text (highlighted) or json (one object per line).")] = "text",
    show_names: Annotated[bool, typer.Option(
        "--show-names", help="Show private senders' names in titles (withheld by default, as in briefings).")] = False,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
) -> None:
    """Ranked full-text search (BM25) over the effective texts of a docket's comments.

    Titles name their sender ("Comment Submitted by Jane Doe"): a private sender's name is withheld
    unless --show-names, as in the briefing and the explorer; the comments' own words are shown as
    submitted."""
    from rich.console import Console
    from rich.text import Text

    from comments.search import search

    if output not in ("text", "json"):
        raise InputError("--output must be text or json")
    with _reading(db) as con:
        hits = search(con, docket_id, query, limit=limit, require_all=not any_word)
        if hits and not show_names:
            from dataclasses import replace

            from comments.briefing.privacy import shown_title

            kinds = dict(con.execute(
                "select comment_id, commenter_type from comment_labels where comment_id in (select unnest(?::varchar[]))",
                [[h.comment_id for h in hits]],
            ).fetchall())
            # not analyzed yet: no commenter type, so every title's name is withheld
            hits = [replace(h, title=shown_title(h.title, kinds.get(h.comment_id), False)) for h in hits]
    if output == "json":
        for h in hits:
            terminal.echo(
                terminal.json_line(
                    {
                        "comment_id": h.comment_id,
                        "score": round(h.score, 4),
                        "matches": h.matches,
                        "title": h.title,
                        "posted_date": h.posted_date.isoformat() if h.posted_date else None,
                        "body_source": h.body_source,
                        "snippet": h.snippet_text(("**", "**")),
                        "url": h.url,
                    }
                )
            )
        return
    console = Console(highlight=False, soft_wrap=False)
    if not hits:
        console.print(terminal.text(f"no comments in {docket_id} match {query!r}"))
        return
    for rank, h in enumerate(hits, start=1):
        # Comment text is untrusted: it goes in as cleaned Text segments, never as markup.
        head = Text(f"{rank:>2}. ", style="bold")
        head.append(terminal.text(h.comment_id, style="bold cyan"))
        head.append(f"  score {h.score:.2f}")
        if h.posted_date:
            head.append(f"  posted {h.posted_date:%Y-%m-%d}")
        if h.title:
            head.append("  ")
            head.append(terminal.text(h.title, style="dim"))
        console.print(head)
        body = Text("    ")
        for segment, is_match in h.snippet:
            body.append(terminal.text(segment, style="bold yellow reverse" if is_match else None))
        console.print(body)
        console.print(terminal.text(f"    {h.url}", style="blue"))
    console.print(Text(f"{len(hits)} comment(s) shown", style="dim"))


def export_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to export.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, parquet or jsonl.")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    show_names: Annotated[bool, typer.Option("--show-names", help="Include first and last names (left out by default: privacy).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
) -> None:
    """Write a docket's comments with their analysis (campaign, theme, stance, commenter type)."""
    from comments.export import export_docket

    with _reading(db) as con:
        rows = export_docket(con, docket_id, fmt, out, include_names=show_names, force=force)
    terminal.echo(f"wrote {rows} comments of {docket_id} to {out} ({fmt.lower()})")


def serve_command(
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)] = 8000,
    host: Annotated[str | None, typer.Option(
        "--host", help="Listen on this address instead of 127.0.0.1 (e.g. 0.0.0.0); then every request needs "
        "the access token printed at start.")] = None,
    show_names: Annotated[bool, typer.Option("--show-names", help="Show private individuals' names (withheld by default).")] = False,
) -> None:
    """Browse, filter, search and label a docket's comments in your browser (a local web app).

    Reads a copy of the database that it refreshes whenever no other process is
    writing, so it keeps working while `comments sync` or `analyze` runs (it
    shows the last committed state and its age). Read-only, except analyst
    labels. Details: docs/explorer.md.
    """
    from comments import settings
    from comments.explorer import server

    path = settings.db_path(db)
    typer.echo(f"explorer: preparing a copy of {path} ...")
    explorer = server.start(path, host=host, port=port, show_names=show_names, background=False)
    typer.echo(f"explorer: open {explorer.url}  (Ctrl-C to stop)")
    if explorer.token:
        typer.echo("explorer: every request needs that token; keep the link private")
    server.serve_forever(explorer)


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
    app.command("export")(export_command)
    app.command("serve")(serve_command)
