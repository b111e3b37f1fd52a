"""The Prefect side of `comments.runs`: each stage of a command becomes a task run.

(Importing `flows.stages` runs `flows/__init__.py` first: quiet Prefect defaults.)

Tasks get live objects in-process and cache nothing (`NO_CACHE`): a task run
costs ~10 ms, so stages work on whole pages or batches, never one item each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

_tasks: dict[tuple[str, Callable], Task] = {}


def as_task(name: str, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
    """A stage runner (`comments.runs`, `comments.tracking`): run `fn(*args, **kwargs)` as the task `name`."""
    key = (name, fn)
    if key not in _tasks:
        _tasks[key] = task(fn, name=name, cache_policy=NO_CACHE)
    return _tasks[key](*args, **kwargs)
