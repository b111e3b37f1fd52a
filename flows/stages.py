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


def task_for(name: str, fn: Callable) -> Task:
    """`fn` as the task `name` (made once per name and function)."""
    key = (name, fn)
    if key not in _tasks:
        _tasks[key] = task(fn, name=name, cache_policy=NO_CACHE)
    return _tasks[key]


def as_task(name: str, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
    """A stage runner (`comments.runs`, `comments.watchlist`): run `fn(*args, **kwargs)` as the task `name`."""
    return task_for(name, fn)(*args, **kwargs)


class TaskBatches:
    """`comments.runs.Batches` as Prefect tasks on the flow run's task runner (a DaskTaskRunner:
    flows/attachments.py): `map` is `Task.map`, `submit` is `Task.submit`."""

    def map(self, name: str, fn: Callable, *lists: list, **kwargs: Any) -> list:
        from prefect import unmapped

        return list(task_for(name, fn).map(*lists, **{k: unmapped(v) for k, v in kwargs.items()}))

    def submit(self, name: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return task_for(name, fn).submit(*args, **kwargs)

    def as_completed(self, futures: list):
        from prefect.futures import as_completed

        return as_completed(futures)
