"""Who runs a sync and what a docket's ids say: what `comments status` reads about syncs.

Apart from `comments.sync` so that `status` does not import the sync machinery (the HTTP
client, Arrow, the listing) to run two queries and look at a process id.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

# --------------------------------------------------------------------------- who runs a sync

# Message of a run whose process is gone (killed, machine lost) before it finished.
DEAD_RUN = "interrupted: the process ended before the run finished"
# A run on another machine that saved no page for this long is taken for dead (at the
# API's pace a page of 250 details takes one key 15 minutes).
HEARTBEAT_STALE_S = 1800.0


def this_process() -> dict:
    """What a run records about the process running it (`run_is_live` reads it back)."""
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_started": psutil.Process().create_time()}


def run_is_live(host, pid, pid_started, heartbeat_at, *, now: datetime | None = None) -> bool:
    """Whether the process that recorded a `running` sync run still runs it.

    On this machine: its process id exists and started when the recorded one
    did (a reused id is another process). Elsewhere: it saved a page within
    HEARTBEAT_STALE_S. A run recorded without its process (an older version)
    is taken for dead: that version held the file for the whole run.
    """
    import psutil

    if host is None or pid is None:
        return False
    if host == socket.gethostname():
        try:
            proc = psutil.Process(int(pid))
            return proc.status() != psutil.STATUS_ZOMBIE and (
                pid_started is None or abs(proc.create_time() - float(pid_started)) < 1.0
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False
    now = now or datetime.now(UTC).replace(tzinfo=None)
    return heartbeat_at is not None and (now - heartbeat_at).total_seconds() < HEARTBEAT_STALE_S


# --------------------------------------------------------------------------- ids


@dataclass
class IdStatus:
    """A docket's ids: what the API lists against what is stored."""

    listed: int  # ids listed and not removed
    stored: int
    failing: int  # listed, not stored, recorded in sync_errors
    missing: int  # listed, not stored, not recorded
    removed: int  # stored, absent from the last complete full listing
    ever_listed: bool
    by_source: dict[str, int]


def id_status(con: duckdb.DuckDBPyConnection, docket_id: str) -> IdStatus:
    """Listed, stored, failing, missing and removed ids of a docket (one query; fast on 300,000 ids)."""
    row = con.execute(
        """
        with l as (select comment_id, removed_at from listed_comments where docket_id = $d),
             c as (select comment_id from comments where docket_id = $d),
             e as (select item_id from sync_errors where docket_id = $d and item_type = 'comment' and resolved_at is null),
             full_at as (select last_full_listing_at as t from sync_state where docket_id = $d)
        select
            (select count(*) from l where removed_at is null),
            (select count(*) from c),
            (select count(*) from l where removed_at is null and comment_id not in (select comment_id from c)
                and comment_id in (select item_id from e)),
            (select count(*) from l where removed_at is null and comment_id not in (select comment_id from c)
                and comment_id not in (select item_id from e)),
            (select count(*) from c where comment_id in (select comment_id from l where removed_at is not null)
                or ((select t from full_at) is not null and comment_id not in (select comment_id from l))),
            (select count(*) from l) > 0
        """,
        {"d": docket_id},
    ).fetchone()
    by_source = dict(con.execute(
        "select coalesce(source, 'unknown'), count(*) from comments where docket_id = ? group by 1", [docket_id]
    ).fetchall())
    return IdStatus(row[0], row[1], row[2], row[3], row[4], bool(row[5]), by_source)
