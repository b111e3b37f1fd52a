"""CLI command for the analysis stage: `comments analyze DOCKET_ID`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comments.errors import InputError


def analyze_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to analyze, e.g. CMS-2022-0163.")],
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
) -> None:
    """Find campaigns, themes, stance and commenter types for a docket and store them."""
    from comments import settings, store
    from comments.analysis.pipeline import STEPS, analyze_docket
    from comments.progress import bar

    path = settings.db_path(db)
    if not Path(path).exists():
        raise InputError(f"no database at {path}: run `comments sync` or `comments import` first")
    con = store.connect(path)
    try:
        with bar(f"analyzing {docket_id}", total=STEPS, unit="steps") as progress:
            result = analyze_docket(con, docket_id, progress=progress)
    finally:
        con.close()
    typer.echo(result.summary())
    for note in result.notes:
        typer.echo(f"note: {note}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_command)
