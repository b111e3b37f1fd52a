"""Prefect flow: write a docket's briefing and publish it as Prefect artifacts.

Thin wiring over `comments.runs.brief`: one task writes the file (and returns
the gathered numbers), one publishes a markdown summary and a table (this
step is Prefect's own: a direct run has no artifacts to publish).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from comments import runs, settings
from comments.briefing.renderers import md_escape
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
def brief_docket(docket_id: str, db: str | None = None, out: str = "briefing.html", show_names: bool = False) -> dict:
    """Write the briefing for `docket_id` to `out` (.html, .md or .docx) and publish artifacts."""
    brief = runs.brief(docket_id, settings.db_path(db), out, show_names, stage=as_task)
    publish(brief, out)
    return runs.brief_summary(brief, out)


if __name__ == "__main__":  # pragma: no cover
    import sys

    brief_docket(sys.argv[1], out=sys.argv[2] if len(sys.argv) > 2 else "briefing.html")
