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
    keys,
    labels,
    outputs,
    themes,
    tracking,
)

for module in (ingest, attachments, imports, analysis, labels, themes, codebook, outputs, explore, tracking, keys):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: user errors become one line on stderr; so do SIGINT and SIGTERM."""
    from comments import interrupts, terminal

    # The CLI's progress bars and summary lines are its console output. Prefect's
    # own lines (when runs go through Prefect) would interleave with them, and a
    # failed run's would repeat the one-line error as a traceback: the exception
    # itself reaches this edge either way. They still reach a Prefect server's UI
    # (the API log handler is not affected); set the variable to INFO to see them.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    args = sys.argv[1:] if argv is None else list(argv)
    with interrupts.handling():
        try:
            terminal.route_logs()
            if args and "--help" not in args:  # a bad setting fails here, not inside a run; help still shows
                from comments import settings

                settings.check_all()
            code = app(args=args, standalone_mode=False)  # typer returns typer.Exit's code here
        except BaseException as exc:
            return _exit_code(exc)
    return code if isinstance(code, int) else 0


def _exit_code(exc: BaseException) -> int:
    """One line and an exit code for what the user can act on; anything else is a bug and raises."""
    import click

    from comments import interrupts

    signum = interrupts.received() or getattr(exc, "signum", None)
    if signum is None and type(exc).__name__ == "TerminationSignal":  # Prefect's SIGTERM bridge
        signum = getattr(exc, "signal", None)
    if signum:  # whatever the interrupted code raised on its way out
        interrupts.tell(signum)
        return 128 + signum
    if isinstance(exc, UserError):
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        interrupts.tell(2)
        return 130
    if isinstance(exc, click.exceptions.Exit | typer.Exit):
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort | typer.Abort):
        print("aborted", file=sys.stderr)
        return 1
    if isinstance(exc, click.ClickException) or _is_typer_usage_error(exc):  # usage errors, in non-standalone mode
        exc.show()
        return exc.exit_code
    raise exc


def _is_typer_usage_error(exc: Exception) -> bool:
    """Typer >= 0.29 raises its own vendored click's errors (e.g. BadParameter for `--max-comments 0`)."""
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # older typer: plain click's, handled above
        return False
    return isinstance(exc, ClickException)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
