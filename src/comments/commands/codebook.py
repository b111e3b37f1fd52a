"""`comments codebook DOCKET_ID`: write the docket's editable codebook beside the database."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer


def codebook_command(
    docket_id: Annotated[str, typer.Argument(help="Docket whose codebook to write, e.g. CMS-2022-0163.")],
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or ./data/comments.duckdb).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the codebook even if it was edited.")] = False,
) -> None:
    """Write an editable codebook for the docket (TOML, beside the database) and print its path.

    Seeded from the docket's title and abstract, the notice's section headings and questions
    (fetched by `comments attachments`), the largest campaigns' templates and, once the docket
    is analyzed, its themes. Edit what support and oppose mean, add cue phrases, rename,
    merge, split or delete themes; `comments analyze` then uses it. An edited codebook is
    never overwritten without --force.
    """
    from comments import settings, store
    from comments.analysis.codebook import default_path, write_codebook

    path = settings.db_path(db)
    with closing(store.connect_existing(path)) as con:
        out = write_codebook(con, docket_id, default_path(path, docket_id), force=force)
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("codebook")(codebook_command)
