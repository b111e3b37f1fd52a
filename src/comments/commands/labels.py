"""`comments label sample DOCKET --n 60 --out FILE.csv` and `comments label import FILE.csv`.

The analyst's side of stance: label a stratified sample of a docket's texts
in a spreadsheet, import the labels, and the next `comments analyze` keeps
them, trains a per-docket model once there are enough, and reports how
accurate it measured (see comments.label_files and comments.analysis.stance_model).
"""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

DB_HELP = "DuckDB file (default: $COMMENTS_DB or data/comments.duckdb)."

label_app = typer.Typer(
    help="Label comments by hand so stance is trained and measured on this docket.",
    no_args_is_help=True,
)


@label_app.command("sample")
def sample_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to sample, e.g. CMS-2022-0163 (analyzed first).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    n: Annotated[int, typer.Option("--n", help="How many texts.", min=1)] = 60,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="A random, blind sample to measure accuracy on (never trained on).")] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Write N texts of an analyzed docket to label, least certain first.

    Each campaign's template once, singletons spread across themes and organizations; texts nobody
    read and texts already labeled are left out. Fill the stance column (support, oppose, mixed,
    unclear; blank = skip), then run `comments label import OUT` and `comments analyze DOCKET`.

    With --check: N read texts drawn at random instead, without the current stance (label them
    blind); their labels are kept out of training and the analysis reports its accuracy on them.
    """
    from comments import settings, store
    from comments.label_files import write_sample

    with closing(store.connect_existing(settings.db_path(db))) as con:
        written = write_sample(con, docket_id, n, out, force=force, check=check)
    kind = "texts drawn at random (to check accuracy; never trained on)" if check else "texts"
    typer.echo(f"wrote {written} {kind} of {docket_id} to {out}: fill the stance column "
               f"(support, oppose, mixed, unclear), then run `comments label import {out}`")


@label_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A filled-in sample CSV (comment_id and stance columns).")],
    check: Annotated[bool, typer.Option(
        "--check", help="Store every row as a check label (measured on, never trained on).")] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Store the labels of a filled-in sample file (importing it twice changes nothing).

    A label applies to every copy of its text. A bad row is reported on one line with its line
    number and skipped; every other row is stored. With 30 or more labeled texts the next
    `comments analyze` trains a stance model for the docket and measures its accuracy. Rows whose
    `purpose` column says `check` (a `label sample --check` file), or every row with --check, are
    check labels: never trained on, the analysis reports its accuracy on them.
    """
    from comments import settings, store
    from comments.label_files import import_csv

    with closing(store.connect_existing(settings.db_path(db))) as con:
        result = import_csv(con, file, check=check)
    for line in result.errors:
        print(f"error: {line}", file=sys.stderr)
    dockets = ", ".join(result.dockets) or "no docket"
    checks = f", {result.checks} of them check labels" if result.checks else ""
    typer.echo(f"stored {result.saved} labels{checks} ({dockets}); {result.blank} rows not labeled yet; "
               f"{len(result.errors)} bad rows")
    if result.dockets:
        typer.echo("next: " + "; ".join(f"comments analyze {d}" for d in result.dockets)
                   + " (labels are used by the next analysis)")
    if result.errors:
        from comments.errors import InputError

        raise InputError(f"{len(result.errors)} bad rows in {file.name} (listed above); the other rows were stored")


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
