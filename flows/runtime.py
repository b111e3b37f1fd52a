"""Paths a flow reads from the environment of the worker that runs it, at run time.

Deployments bake no path in (prefect.yaml has no pull step and module
entrypoints): the database is `db` if given, else $COMMENTS_DB of the worker;
the watchlist is `watchlist` if given, else $COMMENTS_WATCHLIST. A process
worker starts each flow run in a temporary directory, so under a deployment a
relative path would point into that directory and vanish with it: it is an
error there, with the fix in the message.
"""

from __future__ import annotations

from pathlib import Path

from comments import settings
from comments.errors import ConfigError


def in_deployment() -> bool:
    from prefect.runtime import deployment

    return deployment.id is not None


def _checked(path: Path, what: str, variable: str) -> Path:
    if not path.is_absolute() and in_deployment():
        raise ConfigError(
            f"{what} {path} is relative, and a worker runs each flow in a temporary directory: "
            f"set {variable} to an absolute path in the worker's environment (or pass one)"
        )
    return path


def db_path(db: str | None = None) -> str:
    """The database for this run: `db`, else $COMMENTS_DB (read now, on this worker)."""
    return str(_checked(settings.db_path(db), "the database", "COMMENTS_DB"))


def watchlist_path(watchlist: str | None = None) -> str:
    """The watchlist for this run: `watchlist`, else $COMMENTS_WATCHLIST, else ./watchlist.toml."""
    from comments.watchlist import default_watchlist

    value = watchlist or default_watchlist()
    return str(_checked(Path(value), "the watchlist", "COMMENTS_WATCHLIST"))
