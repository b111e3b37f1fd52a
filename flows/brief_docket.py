"""Prefect flow: write a docket's briefing and publish it as Prefect artifacts.

Thin wiring over `comments.runs.brief`: one task writes the file (and returns
the gathered numbers), one publishes a markdown summary and a table (this
step is Prefect's own: a direct run has no artifacts to publish). With
`changes` (the watchlist planner's brief stage), a task first records what
changed since the last run (`comments.runs.record_changes`: the state
snapshot, and `<DOCKET>.changes.md` beside the briefing) under the docket's
one-writer limit, and the briefing opens with it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from comments import runs
from comments.briefing.renderers import md_escape
from flows import limits, runtime
from flows.stages import as_task


def _artifact_key(docket_id: str) -> str:
    # artifact keys allow only lowercase letters, digits and dashes
    return "brief-" + "".join(ch if ch.isalnum() else "-" for ch in docket_id.lower())


@task
def publish(brief: dict, out: str) -> None:
    d, h = brief["docket"], brief["headline"]
    lines = [
        f"# Briefing: {md_escape(d['docket_id'])}",
        "",
        f"{md_escape(d['title'] or '')}",
        "",
        f"- File: `{Path(out).name}`",
        f"- {h['comments_posted']:,} comments posted, {h['submissions_represented']:,} submissions represented",
        f"- {h['unique_texts']:,} unique texts; {h['campaigns']:,} campaigns hold {h['campaign_share_pct']}% of posted comments",
        "",
        "| Stance | Unique texts | Submissions represented |",
        "|---|---:|---:|",
    ]
    lines += [f"| {s['stance']} | {s['unique_texts']:,} | {s['submissions']:,} |" for s in brief["stance"]]
    if brief.get("stance_method"):
        lines += ["", md_escape(brief["stance_method"]["statement"])]
    lines += ["", "Themes, largest first:", ""]
    lines += [f"{i}. {md_escape(t['label'])} ({t['unique_texts']:,} unique texts)" for i, t in enumerate(brief["themes"], 1)]
    key = _artifact_key(d["docket_id"])
    create_markdown_artifact(markdown="\n".join(lines), key=key, description=f"Briefing summary for {d['docket_id']}")
    create_table_artifact(
        table=[{"measure": m["label"], "key": m["key"], "value": m["value"]} for m in brief["metrics"]],
        key=key + "-numbers",
        description=f"Briefing numbers for {d['docket_id']} (from sql/reports/brief_*.sql)",
    )


@flow(name="brief_docket")
def brief_docket(
    docket_id: str, db: str | None = None, out: str = "briefing.html", show_names: bool = False, changes: bool = False,
) -> dict:
    """Write the briefing for `docket_id` to `out` (.html, .md or .docx) and publish artifacts.

    `changes`: first record what changed since the last run (written beside `out`), and open with it.
    """
    path = runtime.db_path(db)
    diff = None
    if changes:
        with limits.docket_lock(docket_id):
            diff = runs.record_changes(docket_id, path, Path(out).parent, stage=as_task)
    brief = runs.brief(docket_id, path, out, show_names, changes=diff, stage=as_task)
    publish(brief, out)
    summary = runs.brief_summary(brief, out)
    if diff is not None:
        summary["changes"] = {k: v for k, v in diff.items() if k not in ("markdown", "diff")}
    return summary


if __name__ == "__main__":  # pragma: no cover
    import sys

    brief_docket(sys.argv[1], out=sys.argv[2] if len(sys.argv) > 2 else "briefing.html")
