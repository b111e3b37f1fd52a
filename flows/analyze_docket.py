"""Prefect flow: analyze one docket (campaigns, stance, commenters, themes, bursts).

Thin: one task, `comments.runs.analyze`, which calls
`comments.analysis.pipeline.analyze_docket` (all its writing in one
transaction). (Importing `flows.analyze_docket` runs `flows/__init__.py`
first: quiet Prefect defaults.)
"""

from __future__ import annotations

from prefect import flow

from comments import runs
from comments.progress import noop
from flows import limits, runtime
from flows.stages import as_task

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


@flow(name="analyze_docket")
def analyze_docket(docket_id: str, db: str | None = None, overrides: dict[str, str] | None = None) -> dict:
    """Analyze `docket_id` in the database at `db` (default: $COMMENTS_DB).

    `overrides` sets analysis parameters by name, e.g. {"campaigns.min_containment": "0.5"}.
    With shared limits on, the docket's one-writer limit is held meanwhile (flows/limits.py).
    """
    path = runtime.db_path(db)
    with limits.docket_lock(docket_id):
        return runs.analyze(docket_id, path, overrides, progress=hooks["progress"], stage=as_task)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(analyze_docket(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
