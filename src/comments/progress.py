"""Progress bars for long work: rate and time left, on stderr, quiet when not a terminal.

Library code takes a plain callback `progress(advance: int = 1, total: int | None = None)`
so it never depends on rich or on a terminal; the CLI supplies one from `bar()`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

ProgressFn = Callable[..., None]


def noop(advance: int = 1, total: int | None = None) -> None:
    return None


class _RateColumn(TransferSpeedColumn):
    """Items per second rather than bytes per second."""

    def render(self, task):
        speed = task.finished_speed or task.speed
        from rich.text import Text

        return Text("?/s" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")


@contextmanager
def bar(description: str, total: int | None = None, unit: str = "") -> Iterator[ProgressFn]:
    """A progress bar on stderr; yields the callback to advance it."""
    with bars() as new_bar:
        yield new_bar(description, unit, total)


@contextmanager
def bars() -> Iterator[Callable[..., ProgressFn]]:
    """Several bars in one display (one per stage); yields `new_bar(description, unit="", total=None)`."""
    console = Console(stderr=True)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:

        def new_bar(description: str, unit: str = "", total: int | None = None) -> ProgressFn:
            task = progress.add_task(description + (f" ({unit})" if unit else ""), total=total)

            def advance(n: int = 1, total: int | None = None) -> None:
                if total is not None:
                    progress.update(task, total=total)
                if n:
                    progress.advance(task, n)

            return advance

        yield new_bar


def is_terminal() -> bool:
    return sys.stderr.isatty()
