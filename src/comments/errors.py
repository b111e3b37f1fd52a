"""Errors the CLI turns into one line and a non-zero exit.

Everything a user can cause (bad input, missing key, locked database) is a
`UserError`; the CLI prints `error: <message>` and exits with `exit_code`.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message is shown as one line."""

    exit_code = 2

    def __str__(self) -> str:  # one line, whatever the message held, and nothing a terminal acts on
        from comments.terminal import clean

        return clean(" ".join(super().__str__().split()))


class ConfigError(UserError):
    """A missing or malformed setting (environment variable, option)."""


class InputError(UserError):
    """A malformed argument or a file that is not what it claims to be."""


class DatabaseLockedError(UserError):
    """The DuckDB file is held by another process."""

    exit_code = 3
