"""`comments attachments DOCKET_ID`: download attachment files and extract their text."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from comments import settings, terminal
from comments.errors import InputError


def run_attachments(
    docket_id: str,
    db: str | Path | None = None,
    *,
    workers: int | None = None,
    retry_failed: bool = False,
    show_progress: bool = True,
    dask: bool = False,
    dask_address: str | None = None,
) -> tuple[dict[str, int], str]:
    """Process the docket's pending attachments in the database at `db`; (counts, summary line).

    On Dask (`dask` or `dask_address`) the Prefect flow runs, whatever
    COMMENTS_PREFECT says: its batches are Prefect tasks on a DaskTaskRunner.
    """
    from comments import runs, store
    from comments.attachments.pipeline import summary_line
    from comments.commands import runner
    from comments.progress import bar, noop

    path = settings.db_path(db)
    if not path.exists():
        raise InputError(f"no database at {path}: run `comments sync {docket_id}` first (or pass --db)")
    with store.reading(path) as con:
        if not store.scalar(con, "select count(*) from comments where docket_id = ?", [docket_id]):
            raise InputError(f"no comments for docket {docket_id} in {path}: run `comments sync {docket_id}` first")
    if dask or dask_address:
        try:
            import prefect_dask  # noqa: F401
        except ImportError:
            raise InputError("--dask needs prefect-dask: pip install prefect-dask") from None
    started = time.monotonic()

    def run(progress) -> dict[str, int]:
        if dask or dask_address:
            module = runner.flow_module("attachments")
            with runner.with_hooks(module, progress=progress):
                return module.fetch_attachments(docket_id, str(path), workers, retry_failed, dask=True,
                                                dask_address=dask_address)
        return runner.run(
            runs.fetch_attachments, "attachments:fetch_attachments", docket_id, str(path), workers, retry_failed,
            hooks={"progress": progress},
        )

    if show_progress:
        with bar(f"{docket_id} attachments", unit="files") as advance:
            counts = run(advance)
    else:
        counts = run(noop)
    return counts, summary_line(docket_id, counts, time.monotonic() - started)


def register(app: typer.Typer) -> None:
    @app.command("attachments")
    def attachments(
        docket_id: Annotated[str, typer.Argument(help="Docket whose comments' attachments to fetch, e.g. CMS-2022-0163.")],
        db: Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or ./data/comments.duckdb).")] = None,
        workers: Annotated[int | None, typer.Option("--workers", min=1, help="Extraction processes (default: every core).")] = None,
        retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Also retry files that failed before.")] = False,
        dask: Annotated[bool, typer.Option("--dask", help="Extract on a local Dask cluster (a Prefect flow on a DaskTaskRunner).")] = False,
        dask_address: Annotated[str | None, typer.Option("--dask-address", help="Extract on the Dask cluster at this scheduler address, e.g. tcp://10.0.0.5:8786 (its workers must see the file store and run with DASK_DISTRIBUTED__WORKER__DAEMON=False).")] = None,
    ) -> None:
        """Download attachment files (allowed hosts only, size-capped) and extract their text.

        Files are stored by SHA-256 in a folder beside the database (<db>.files/);
        PDF, DOCX, DOC, TXT, HTML and RTF are read, scanned pages are OCRed when
        tesseract is installed. Resumable: run it again to finish or to pick up
        new comments; stored files are never downloaded twice.
        """
        _, line = run_attachments(docket_id, db, workers=workers, retry_failed=retry_failed, dask=dask,
                                  dask_address=dask_address)
        terminal.echo(line)
