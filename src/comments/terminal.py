"""What the CLI prints to a terminal: never a control character it did not mean.

Comment text, titles, file names and server messages are untrusted; printed raw,
an `ESC [` sequence in them recolours, moves the cursor, retitles the window or
worse (some terminals answer queries as if the user had typed). Everything the
commands print goes through `clean` (via `echo` or `text`); JSON output
keeps the data exact, with the characters JSON leaves raw written as `\\uXXXX`.
"""

from __future__ import annotations

import json
import logging
import re
import sys

# C0 controls but tab and newline, DEL, C1 controls (U+009B is a one-character CSI on
# some terminals), and the bidirectional overrides and isolates that reorder what a line shows.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(value: object) -> str:
    """`value` as text with control characters removed (tab and newline kept)."""
    return _CONTROL.sub("", str(value))


def echo(value: object = "", *, err: bool = False) -> None:
    """Print one cleaned line to stdout (or stderr)."""
    print(clean(value), file=sys.stderr if err else sys.stdout, flush=err)


def json_line(obj: object) -> str:
    """One JSON object per line, data exact, nothing a terminal acts on (json escapes C0 itself)."""
    dumped = json.dumps(obj, ensure_ascii=False, default=str)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def text(value: object, style: str | None = None):
    """A rich Text segment of untrusted text: cleaned, never parsed as markup."""
    from rich.text import Text

    return Text(clean(value), style=style or "")


class _CleanStderr(logging.Handler):
    """Writes to whatever sys.stderr is at the time (tests and wrappers swap it), cleaned."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(clean(self.format(record)), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)


def route_logs() -> None:
    """The project's own log lines (a server's error text inside a warning, say) reach stderr
    cleaned like everything else the CLI prints. Without this they went through Python's
    last-resort handler raw, or vanished into Prefect's console handler when Prefect had set up
    logging; now they print the same way in both cases (with no other handler printing them:
    the CLI sets Prefect's console handler to CRITICAL)."""
    logger = logging.getLogger("comments")
    if any(isinstance(h, _CleanStderr) for h in logger.handlers):
        return
    handler = _CleanStderr(logging.WARNING)
    logger.addHandler(handler)  # still propagates: Prefect's console handler is silenced by the CLI
