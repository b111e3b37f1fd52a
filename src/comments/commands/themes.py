"""`comments themes audit DOCKET --out FILE.csv` and `comments themes import FILE.csv`.

The analyst's check of the automatic themes: mark a sample of each theme's texts yes or no
("does it argue what the label says?"), import it, and the briefing states the precision it
measured (see comments.theme_audit).
"""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

DB_HELP = "DuckDB file (default: $COMMENTS_DB or data/comments.duckdb)."

themes_app = typer.Typer(help="Check the automatic themes by hand and measure their precision.", no_args_is_help=True)


@themes_app.command("audit")
def audit_command(
    docket_id: Annotated[str, typer.Argument(help="Analyzed docket, e.g. CMS-2022-0163.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    per_theme: Annotated[int, typer.Option("--per-theme", help="Member texts per theme.", min=1)] = 6,
    near: Annotated[int, typer.Option("--near", help="Nearby texts outside each theme.", min=0)] = 2,
    seed: Annotated[str, typer.Option("--seed", help="Draw another sample of members (any word).")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Write a sample of each theme's texts (and a few near it) to mark yes or no.

    Fill `belongs` with yes when the text argues what the theme's label says, no otherwise
    (blank = skip), then run `comments themes import OUT`.
    """
    from comments import settings, store
    from comments.theme_audit import write_audit

    with closing(store.connect_existing(settings.db_path(db))) as con:
        written = write_audit(con, docket_id, out, per_theme=per_theme, near=near, force=force, seed=seed)
    typer.echo(f"wrote {written} texts of {docket_id} to {out}: fill the belongs column (yes / no), "
               f"then run `comments themes import {out}`")


@themes_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A filled-in audit CSV (theme_id, comment_id, belongs).")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Store a filled-in audit file and print each theme's precision (importing twice changes nothing)."""
    from comments import settings, store
    from comments.theme_audit import audit_figures, audit_statement, import_audit

    with closing(store.connect_existing(settings.db_path(db))) as con:
        result = import_audit(con, file)
        figures = {d: audit_figures(con, d) for d in result.dockets}
    for line in result.errors:
        print(f"error: {line}", file=sys.stderr)
    typer.echo(f"stored {result.saved} audit rows ({', '.join(result.dockets) or 'no docket'}); "
               f"{result.blank} rows not marked yet; {len(result.errors)} bad rows")
    for docket, fig in figures.items():
        for t in (fig or {}).get("themes", []):
            prec = "-" if t["precision"] is None else f"{t['precision']:.2f}"
            near = f", near {t['near_yes']}/{t['near']} belong" if t["near"] else ""
            typer.echo(f"  {docket} {t['theme_id']} {t['label']}: precision {prec} ({t['yes']}/{t['members']}){near}")
        typer.echo(f"{docket}: {audit_statement(fig, docket)}")
    if result.errors:
        from comments.errors import InputError

        raise InputError(f"{len(result.errors)} bad rows in {file.name} (listed above); the other rows were stored")


def register(app: typer.Typer) -> None:
    app.add_typer(themes_app, name="themes")
