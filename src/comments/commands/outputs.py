"""CLI command for briefings: `comments brief DOCKET_ID --out FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comments import terminal


def brief_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to brief, e.g. CMS-2022-0163.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .html (self-contained page), .md or .docx.")],
    show_names: Annotated[bool, typer.Option("--show-names", help="Show names of private individuals (withheld by default).")] = False,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
) -> None:
    """Write a two-page briefing on an analyzed docket: numbers, stance, themes with quotes, who commented, timeline, caveats."""
    result = run_brief(docket_id, out, db, show_names=show_names)
    m = result["metrics"]
    terminal.echo(
        f"{out}: {m['comments_posted']:,} comments posted, {m['submissions_represented']:,} submissions represented, "
        f"{m['unique_texts']:,} unique texts, {m['campaigns']:,} campaigns, {result['themes']} themes"
    )


def run_brief(docket_id: str, out: Path, db: str | Path | None = None, *, show_names: bool = False) -> dict:
    """Cheap checks first (format, database, analysis), then the stages that write the file."""
    from comments import settings, store
    from comments.briefing import briefing_format
    from comments.briefing.data import check_ready

    briefing_format(out)  # an unsupported extension fails before the database is opened
    path = settings.db_path(db)
    with store.reading(path) as con:  # a reader: it waits at most for the write in progress
        check_ready(con, docket_id)

    from comments import runs
    from comments.commands import runner

    def direct(*args) -> dict:
        return runs.brief_summary(runs.brief(*args), out)

    return runner.run(direct, "brief_docket:brief_docket", docket_id, str(path), str(out), show_names)


def register(app: typer.Typer) -> None:
    app.command("brief")(brief_command)
