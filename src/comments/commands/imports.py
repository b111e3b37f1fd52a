"""`comments import bulk-csv FILE` and `comments import mirrulations DIR`: other ways a docket arrives.

Both write the same tables as `comments sync`, keyed on regulations.gov's own
ids, so a later sync merges with what they stored instead of duplicating it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from comments import settings, terminal
from comments.importers import ImportReport

DB_OPTION = typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or ./data/comments.duckdb).")


def run_bulk_csv(file: str | Path, db: str | Path | None = None, *, show_progress: bool = True) -> ImportReport:
    """Import one bulk-download CSV into the database at `db`; returns the ImportReport."""
    from comments import runs
    from comments.commands import runner
    from comments.importers.bulk_csv import read_header

    read_header(Path(file))  # refuse a file that is not a bulk CSV before creating a database
    path = _checked_db(db)
    with _progress(show_progress, f"import {Path(file).name}", "steps") as progress:
        return ImportReport(**runner.run(runs.import_bulk_csv, "imports:import_bulk_csv_flow", str(file), str(path),
                                         hooks={"progress": progress}))


def run_mirrulations(
    root: str | Path, db: str | Path | None = None, *, docket_id: str | None = None, show_progress: bool = True
) -> ImportReport:
    """Import a Mirrulations-layout directory into the database at `db`; returns the ImportReport."""
    from comments import runs
    from comments.commands import runner
    from comments.importers.mirrulations import find_dockets

    find_dockets(root, docket_id)  # refuse a directory that is not a Mirrulations copy first
    path = _checked_db(db)
    with _progress(show_progress, f"import {docket_id or Path(root).name}", "comment files") as progress:
        return ImportReport(**runner.run(runs.import_mirrulations, "imports:import_mirrulations_flow", str(root), str(path),
                                         docket_id, hooks={"progress": progress}))


def _checked_db(db: str | Path | None) -> Path:
    from comments import store

    path = settings.db_path(db)
    store.connect(path).close()  # a locked database fails now, before any stage starts
    return path


@contextmanager
def _progress(show: bool, description: str, unit: str):
    """A progress bar for one import (a no-op callback when not shown)."""
    from comments.progress import bar, noop

    if not show:
        yield noop
        return
    with bar(description, unit=unit) as advance:
        yield advance


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="import",
        help="Load a docket from a bulk-download CSV or a Mirrulations copy (no API key needed).",
        no_args_is_help=True,
    )

    @sub.command("bulk-csv")
    def bulk_csv(
        file: Annotated[Path, typer.Argument(help="The CSV from regulations.gov's docket bulk download.")],
        db: Annotated[Path | None, DB_OPTION] = None,
    ) -> None:
        """Import regulations.gov's docket bulk-download CSV.

        Public submissions become comments (with their attachments' URLs, to be
        fetched by `comments attachments`), other rows become documents. Ids are
        the API's, so a later `comments sync` fills in what the CSV lacks. A row
        already stored from the API is never overwritten by the CSV. Malformed
        rows are skipped and listed in the import_rejects table. Safe to repeat.
        """
        report = run_bulk_csv(file, db)
        terminal.echo(report.summary())

    @sub.command("mirrulations")
    def mirrulations(
        directory: Annotated[Path, typer.Argument(help="A folder in the Mirrulations layout (holding raw-data/).")],
        docket: Annotated[str | None, typer.Option("--docket", help="Import only this docket when several are present.")] = None,
        db: Annotated[Path | None, DB_OPTION] = None,
    ) -> None:
        """Import a local copy of the Mirrulations mirror (raw-data/<agency>/<docket>/text-<docket>/).

        The JSON files are regulations.gov's own records and are saved exactly as
        `comments sync` saves them; extracted attachment text under derived-data/
        is used when present. Files that are not comment records are skipped and
        listed in the import_rejects table. Safe to repeat.
        """
        report = run_mirrulations(directory, db, docket_id=docket)
        terminal.echo(report.summary())

    app.add_typer(sub, name="import")
