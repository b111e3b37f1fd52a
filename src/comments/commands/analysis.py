"""CLI command for the analysis stage: `comments analyze DOCKET_ID`."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from comments import terminal
from comments.errors import InputError


def analyze_command(
    docket_id: Annotated[str, typer.Argument(help="Docket to analyze, e.g. CMS-2022-0163.")],
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or data/comments.duckdb).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NAME=VALUE",
        help="Change an analysis parameter, e.g. --set campaigns.min_containment=0.5 (repeatable; "
        "an unknown name lists the known ones). Stored with the run in analysis_runs.parameters.",
    )] = None,
) -> None:
    """Find campaigns, themes, stance and commenter types for a docket and store them.

    Recorded as the Prefect flow `analyze_docket` when PREFECT_API_URL points
    at a Prefect server (see COMMENTS_PREFECT). Deterministic: the same comments give
    the same result, and campaign/theme ids stay stable as comments arrive.
    Uses the docket's codebook (`comments codebook DOCKET_ID`) when it exists.
    """
    summary = run_analyze(docket_id, db, overrides=parse_overrides(set_ or []))
    terminal.echo(summary["summary"])
    for note in summary["notes"]:
        terminal.echo(f"note: {note}")


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`["a.b=1", ...]` -> {"a.b": "1"}, checked against the known parameters (one-line errors)."""
    from comments.analysis.pipeline import AnalysisParams

    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set takes NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value.strip()
    AnalysisParams.from_overrides(overrides)  # unknown names and bad values fail here, before Prefect starts
    return overrides


def run_analyze(docket_id: str, db: str | Path | None = None, *, overrides: dict[str, str] | None = None) -> dict:
    """Cheap checks first (database, docket, parameters, codebook), then the stages with a progress bar; the summary dict."""
    from comments import runs, settings, store
    from comments.analysis.codebook import find_codebook
    from comments.analysis.pipeline import STEPS, require_comments
    from comments.commands import runner
    from comments.progress import bar

    path = settings.db_path(db)
    with closing(store.connect_existing(path)) as con:
        require_comments(con, docket_id)
    find_codebook(path, docket_id)  # a malformed codebook is one line now, not after Prefect has started

    with bar(f"analyzing {docket_id}", total=STEPS, unit="steps") as progress:
        return runner.run(runs.analyze, "analyze_docket:analyze_docket", docket_id, str(path), overrides or None,
                          hooks={"progress": progress})


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_command)
