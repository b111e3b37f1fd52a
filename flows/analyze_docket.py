"""Prefect flow: analyze one docket (campaigns, stance, commenters, themes, bursts).

Thin: one task, one call into `comments.analysis.pipeline.analyze_docket`, which
does all its writing in one transaction. (Importing `flows.analyze_docket` runs
`flows/__init__.py` first: quiet Prefect defaults.)
"""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from comments import settings, store
from comments.analysis.codebook import find_codebook
from comments.analysis.pipeline import AnalysisParams
from comments.analysis.pipeline import analyze_docket as run_analysis
from comments.progress import noop

# The CLI sets the progress callback for a run in its own process
# (callables cannot be flow parameters).
hooks = {"progress": noop}


@task(name="analyze-docket", cache_policy=NO_CACHE)
def analyze(docket_id: str, db: str, overrides: dict[str, str] | None = None) -> dict:
    params = AnalysisParams.from_overrides(overrides)
    codebook = find_codebook(db, docket_id)
    con = store.connect(db)
    try:
        result = run_analysis(con, docket_id, params=params, progress=hooks["progress"], codebook=codebook)
    finally:
        con.close()
    return {
        "run_id": result.run_id, "comments": result.comments, "unique_texts": result.unique_texts,
        "campaigns": result.campaigns, "campaign_members": result.campaign_members,
        "singletons": result.singletons, "themes": result.themes, "bursts": result.bursts,
        "summary": result.summary(), "notes": list(result.notes),
    }


@flow(name="analyze_docket")
def analyze_docket(docket_id: str, db: str | None = None, overrides: dict[str, str] | None = None) -> dict:
    """Analyze `docket_id` in the database at `db` (default: $COMMENTS_DB).

    `overrides` sets analysis parameters by name, e.g. {"campaigns.min_containment": "0.5"}.
    """
    return analyze(docket_id, str(settings.db_path(db)), overrides)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(analyze_docket(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
