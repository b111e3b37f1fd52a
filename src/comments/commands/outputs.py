"""CLI command for briefings: `comments brief DOCKET_ID --out FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comments.errors import InputError


def brief_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to brief, e.g. CMS-2022-0163.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .html (self-contained page), .md or .docx.")],
    show_names: Annotated[bool, typer.Option("--show-names", help="Show names of private individuals (withheld by default).")] = False,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
) -> None:
    """Write a two-page briefing on an analyzed docket: numbers, stance, themes with quotes, who commented, timeline, caveats."""
    from comments import settings, store
    from comments.briefing import briefing_format, write_briefing

    briefing_format(out)  # an unsupported extension fails before the database is opened
    path = settings.db_path(db)
    if not Path(path).exists():
        raise InputError(f"no database at {path}: run `comments sync {docket_id}` first")
    con = store.connect(path)
    try:
        brief = write_briefing(con, docket_id, out, show_names=show_names)
    finally:
        con.close()
    h = brief["headline"]
    typer.echo(
        f"{out}: {h['comments_posted']:,} comments posted, {h['submissions_represented']:,} submissions represented, "
        f"{h['unique_texts']:,} unique texts, {h['campaigns']:,} campaigns, {len(brief['themes'])} themes"
    )


def register(app: typer.Typer) -> None:
    app.command("brief")(brief_command)
