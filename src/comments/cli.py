"""The `comments` command: one subcommand per stage, a one-line error for user mistakes.

Each stage's commands live in `comments.commands.<stage>` and register
themselves on `app`; this module only assembles them and guards the edge.
"""

from __future__ import annotations

import os
import sys

import typer

from comments.errors import UserError

app = typer.Typer(
    name="comments",
    help="Pull public comments from regulations.gov into DuckDB and summarize what people said.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Registration order is the order `--help` lists them.
from comments.commands import (  # noqa: E402
    analysis,
    attachments,
    codebook,
    explore,
    imports,
    ingest,
    outputs,
    tracking,
)

for module in (ingest, attachments, imports, analysis, codebook, outputs, explore, tracking):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: user errors become one line on stderr."""
    # The CLI's progress bars and summary lines are its console output; Prefect's
    # INFO lines would interleave with them. They still reach a Prefect server's
    # UI (the API log handler is not affected); set the variable to INFO to see them.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    try:
        app(args=argv, standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: what was stored so far is kept; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # click's own usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            print("aborted", file=sys.stderr)
            return 1
        if isinstance(exc, click.ClickException) or _is_typer_usage_error(exc):
            exc.show()
            return exc.exit_code
        raise
    return 0


def _is_typer_usage_error(exc: Exception) -> bool:
    """Typer >= 0.29 raises its own vendored click's errors (e.g. BadParameter for `--max-comments 0`)."""
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # older typer: plain click's, handled above
        return False
    return isinstance(exc, ClickException)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
