"""Analyze one docket: campaigns, stance, commenters, themes, bursts -> the analysis tables.

`analyze_docket` reads the effective texts (view `comment_bodies`), runs every
step in memory, and replaces the docket's rows in the analysis tables in ONE
transaction, with an `analysis_runs` row saying what ran (parameters, code
version, counts). Ids of campaigns and themes that still exist are carried
over from the previous rows.

Counting units (every number traces to SQL in sql/reports/):
- posted comments = campaign members + singletons
- submissions represented = posted comments + sum(duplicate_comments)
- unique texts (for themes) = campaigns + singleton comments: a campaign counts once
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

import comments
from comments.analysis import commenters as commenter_rules
from comments.analysis import stance as stance_rules
from comments.analysis.campaigns import CampaignParams, Doc, assign_stable_ids, detect_campaigns
from comments.analysis.normalize import text_key
from comments.analysis.themes import ThemeParams, Unit, find_themes
from comments.errors import InputError
from comments.progress import ProgressFn, noop
from comments.records import now_utc

STEPS = 7  # progress total: read, stance, campaigns, commenters, themes, bursts, write


@dataclass(frozen=True)
class AnalysisParams:
    campaigns: CampaignParams = field(default_factory=CampaignParams)
    themes: ThemeParams = field(default_factory=ThemeParams)
    burst_window_minutes: int = 10    # near-identical comments this close together ...
    burst_min_comments: int = 10      # ... this many of them make a burst
    burst_rate_factor: float = 5.0    # ... and at least 5x the campaign's average pace

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


@dataclass
class AnalysisResult:
    run_id: str
    docket_id: str
    comments: int
    submissions: int
    unique_texts: int          # campaigns + singletons
    exact_unique_texts: int    # distinct normalized texts
    campaigns: int
    campaign_members: int
    singletons: int
    themes: int
    bursts: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    def summary(self) -> str:
        return (
            f"{self.docket_id}: {self.comments:,} comments ({self.submissions:,} submissions represented), "
            f"{self.unique_texts:,} unique texts, {self.campaigns:,} campaigns covering "
            f"{self.campaign_members:,} comments, {self.themes} themes, {self.bursts} bursts "
            f"in {self.seconds:.1f}s (run {self.run_id})"
        )


_READ_SQL = """
select
    c.comment_id, coalesce(b.body, '') as body, b.body_source,
    c.posted_date, c.received_date, coalesce(c.duplicate_comments, 0) as duplicate_comments,
    c.category, c.organization, c.gov_agency, c.gov_agency_type, c.first_name, c.last_name, c.title
from comments c
join comment_bodies b using (comment_id)
where c.docket_id = ?
order by c.comment_id
"""


def require_comments(con: duckdb.DuckDBPyConnection, docket_id: str) -> int:
    """The number of stored comments of `docket_id`; InputError (one line) when there are none."""
    n = con.execute("select count(*) from comments where docket_id = ?", [docket_id]).fetchone()[0]
    if n == 0:
        known = con.execute("select count(*) from dockets where docket_id = ?", [docket_id]).fetchone()[0]
        if known:
            raise InputError(f"docket {docket_id} has no comments stored yet: run `comments sync {docket_id}` first")
        raise InputError(f"unknown docket {docket_id}: no comments stored for it (check the id, or run `comments sync` first)")
    return n


def analyze_docket(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    *,
    params: AnalysisParams | None = None,
    progress: ProgressFn = noop,
) -> AnalysisResult:
    """Run the whole analysis for `docket_id` and store it; raises InputError for an unknown docket."""
    params = params or AnalysisParams()
    started = time.perf_counter()
    require_comments(con, docket_id)
    progress(0, total=STEPS)

    run_id = f"run-{now_utc():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started_at = now_utc()
    code_version = f"{comments.__version__}+{params.digest()}"
    con.execute(
        "insert into analysis_runs (run_id, docket_id, started_at, status, code_version, parameters) values (?, ?, ?, 'running', ?, ?)",
        [run_id, docket_id, started_at, code_version, params.to_json()],
    )
    try:
        result = _analyze(con, docket_id, params, progress, run_id, started_at, started)
    except Exception as exc:
        con.execute(
            "update analysis_runs set status = 'failed', finished_at = ?, message = ? where run_id = ?",
            [now_utc(), f"{type(exc).__name__}: {str(exc)[:500]}", run_id],
        )
        raise
    return result


def _analyze(con, docket_id, params, progress, run_id, started_at, started) -> AnalysisResult:
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        timings[step] = round(now - clock[0], 3)
        clock[0] = now

    rows = _read(con, docket_id)
    ids: list[str] = rows["comment_id"]
    bodies: list[str] = rows["body"]
    dups = [int(d or 0) for d in rows["duplicate_comments"]]
    n = len(ids)
    lap("read")
    progress(1)

    # Stance per distinct text (campaign copies share texts; classify each once).
    stance_cache: dict[str, stance_rules.Stance] = {}

    def stance_of_text(text: str) -> stance_rules.Stance:
        s = stance_cache.get(text)
        if s is None:
            s = stance_cache[text] = stance_rules.classify(text)
        return s

    progress(1)

    # Campaigns (helper E's detector), judged by stance so opposites never merge.
    docs = [Doc(ids[i], bodies[i], rows["posted_date"][i], dups[i]) for i in range(n)]
    found = detect_campaigns(docs, params.campaigns, stance_of=lambda t: stance_of_text(t).stance)
    previous = _previous_campaigns(con, docket_id)
    campaign_ids = assign_stable_ids(found, previous)
    lap("campaigns")
    progress(1)

    index = {cid: i for i, cid in enumerate(ids)}
    member_of: dict[str, tuple[str, object]] = {}  # comment id -> (campaign id, Member)
    for camp in found:
        for m in camp.members:
            member_of[m.comment_id] = (campaign_ids[camp.key], m)

    # Per comment: stance (own, or inherited from the template) and commenter.
    labels: dict[str, list] = {name: [] for name in _SCHEMAS["comment_labels"].names}
    template_stance = {campaign_ids[c.key]: stance_of_text(c.template_text) for c in found}
    key_of_body: dict[str, str] = {}
    who_cache: dict[tuple, commenter_rules.Commenter] = {}
    for i, cid in enumerate(ids):
        body = bodies[i]
        if cid in member_of:
            camp_id, member = member_of[cid]
            tpl = template_stance[camp_id]
            if member.is_exact:
                s, source = tpl, "template"
            else:
                s, source = stance_rules.inherit(tpl, member.unique_additions)
        else:
            s, source = stance_of_text(body), "own"
        fields = (rows["category"][i], rows["organization"][i], rows["gov_agency"][i], rows["gov_agency_type"][i],
                  rows["first_name"][i], rows["last_name"][i], rows["title"][i], body)
        who = who_cache.get(fields)
        if who is None:
            who = commenter_rules.classify(
                category=fields[0], organization=fields[1], gov_agency=fields[2], gov_agency_type=fields[3],
                first_name=fields[4], last_name=fields[5], title=fields[6], text=body,
            )
            if len(who_cache) < 100_000:
                who_cache[fields] = who
        text_hash = key_of_body.get(body)
        if text_hash is None:
            text_hash = key_of_body[body] = text_key(body)
        for name, value in (
            ("docket_id", docket_id), ("comment_id", cid), ("text_hash", text_hash), ("stance", s.stance),
            ("stance_confidence", float(s.confidence)), ("stance_evidence", s.evidence), ("stance_source", source),
            ("commenter_type", who.type), ("commenter_name", who.name), ("commenter_evidence", who.evidence),
            ("run_id", run_id),
        ):
            labels[name].append(value)
    lap("stance_commenters")
    progress(1)

    # Campaign rows.
    received = rows["received_date"]
    posted = rows["posted_date"]
    campaign_rows, member_rows = [], []
    for camp in found:
        camp_id = campaign_ids[camp.key]
        idx = [index[m.comment_id] for m in camp.members]
        tpl = template_stance[camp_id]
        p = [posted[j] for j in idx if posted[j] is not None]
        r = [received[j] for j in idx if received[j] is not None]
        campaign_rows.append({
            "docket_id": docket_id, "campaign_id": camp_id, "size": len(camp.members),
            "exact_copies": sum(1 for m in camp.members if m.is_exact),
            "submissions_represented": len(idx) + sum(dups[j] for j in idx),
            "members_with_additions": sum(1 for m in camp.members if m.unique_additions),
            "template_comment_id": camp.template_comment_id, "template_text": camp.template_text,
            "first_posted": min(p, default=None), "last_posted": max(p, default=None),
            "first_received": min(r, default=None), "last_received": max(r, default=None),
            "stance": tpl.stance, "stance_confidence": float(tpl.confidence), "run_id": run_id,
        })
        for m in camp.members:
            member_rows.append({
                "docket_id": docket_id, "campaign_id": camp_id, "comment_id": m.comment_id,
                "similarity": float(m.similarity), "is_template": m.comment_id == camp.template_comment_id,
                "is_exact": bool(m.is_exact), "unique_additions": list(m.unique_additions or []),
                "run_id": run_id,
            })

    # Themes over unique texts: each campaign once (its template), each singleton comment.
    units = []
    unit_comments: dict[str, list[str]] = {}
    for camp in found:
        camp_id = campaign_ids[camp.key]
        key = f"campaign:{camp_id}"
        members = [m.comment_id for m in camp.members]
        unit_comments[key] = members
        units.append(Unit(key, camp.template_comment_id, camp.template_text, len(members),
                          len(members) + sum(dups[index[c]] for c in members)))
    for i, cid in enumerate(ids):
        if cid not in member_of:
            unit_comments[cid] = [cid]
            units.append(Unit(cid, cid, bodies[i], 1, 1 + dups[i]))
    lap("campaign_rows")
    themes = find_themes(units, params.themes, previous=_previous_themes(con, docket_id))
    lap("themes")
    theme_rows, comment_theme_rows = [], []
    for rank, t in enumerate(themes.themes, start=1):
        theme_rows.append({
            "docket_id": docket_id, "theme_id": t.theme_id, "label": t.label, "keywords": t.keywords,
            "is_catch_all": t.is_catch_all, "rank": rank, "unique_texts": t.unique_texts,
            "comments": t.comments, "submissions": t.submissions, "quotes": t.quotes, "run_id": run_id,
        })
    for key, scores in themes.assignments.items():
        for comment_id in unit_comments[key]:
            for pos, (theme_id, score) in enumerate(scores):
                comment_theme_rows.append({
                    "docket_id": docket_id, "comment_id": comment_id, "theme_id": theme_id,
                    "score": float(round(score, 6)), "is_primary": pos == 0, "run_id": run_id,
                })
    progress(1)

    burst_rows, notes = _bursts(docket_id, found, campaign_ids, index, received, params, run_id)
    lap("theme_rows_bursts")
    progress(1)

    n_members = len(member_rows)
    exact_unique = len(set(labels["text_hash"]))
    _write(con, docket_id, run_id, {
        "campaigns": campaign_rows, "campaign_members": member_rows, "themes": theme_rows,
        "comment_themes": comment_theme_rows, "comment_labels": labels, "bursts": burst_rows,
    }, counts={
        "comments_analyzed": n, "unique_texts": len(units), "campaigns": len(campaign_rows),
        "themes": len(theme_rows),
    }, message="; ".join(notes) or None)
    lap("write")
    progress(1)
    return AnalysisResult(
        run_id=run_id, docket_id=docket_id, comments=n, submissions=n + sum(dups),
        unique_texts=len(units), exact_unique_texts=exact_unique, campaigns=len(campaign_rows),
        campaign_members=n_members, singletons=n - n_members, themes=len(theme_rows),
        bursts=len(burst_rows), seconds=time.perf_counter() - started, notes=notes, timings=timings,
    )


def _read(con, docket_id: str, batch: int = 50_000) -> dict[str, list]:
    """The docket's comments as columns; equal bodies share one string object.

    Campaign copies repeat the same (often long) text thousands of times:
    interning them keeps a million-comment docket's texts in memory once each.
    """
    cur = con.execute(_READ_SQL, [docket_id])
    names = [d[0] for d in cur.description]
    cols: dict[str, list] = {name: [] for name in names}
    body_at = names.index("body")
    seen: dict[str, str] = {}
    while True:
        chunk = cur.fetchmany(batch)
        if not chunk:
            break
        for row in chunk:
            for name, value in zip(names, row, strict=True):
                cols[name].append(value)
            body = row[body_at]
            cols["body"][-1] = seen.setdefault(body, body)
    return cols


def _bursts(docket_id, found, campaign_ids, index, received, params, run_id):
    """Bursts: many copies of one campaign received within burst_window_minutes.

    Many agencies record only the day a comment was received (every time stamp
    at the same clock time); minutes cannot be judged then, so no bursts are
    reported and a note says why.
    """
    times = [t for t in received if t is not None]
    if not times:
        return [], ["no received dates: bursts not computed"]
    clock = defaultdict(int)
    for t in times:
        clock[(t.hour, t.minute, t.second)] += 1
    if len(times) >= 20 and max(clock.values()) >= 0.9 * len(times):
        return [], ["received dates carry no time of day: bursts not computed"]
    window = timedelta(minutes=params.burst_window_minutes)
    rows = []
    for camp in sorted(found, key=lambda c: campaign_ids[c.key]):
        ts = sorted(received[index[m.comment_id]] for m in camp.members if received[index[m.comment_id]] is not None)
        if len(ts) < params.burst_min_comments:
            continue
        # A burst stands out from the campaign's own pace: at least burst_min_comments
        # in the window AND burst_rate_factor times what its average rate would put there.
        span_minutes = max((ts[-1] - ts[0]).total_seconds() / 60, params.burst_window_minutes)
        expected = len(ts) / span_minutes * params.burst_window_minutes
        need = max(params.burst_min_comments, math.ceil(params.burst_rate_factor * expected))
        spans = []
        j = 0
        for i in range(len(ts)):
            j = max(j, i)
            while j + 1 < len(ts) and ts[j + 1] - ts[i] <= window:
                j += 1
            if j - i + 1 >= need:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], j)
                else:
                    spans.append([i, j])
        for a, b in spans:
            rows.append({
                "docket_id": docket_id, "burst_id": "", "campaign_id": campaign_ids[camp.key],
                "started_at": ts[a], "ended_at": ts[b], "comments": b - a + 1, "run_id": run_id,
            })
    rows.sort(key=lambda r: (r["started_at"], r["campaign_id"]))
    for k, r in enumerate(rows, start=1):
        r["burst_id"] = f"B{k:04d}"
    return rows, []


def _previous_campaigns(con, docket_id) -> list[tuple[str, str, set[str]]]:
    rows = con.execute(
        """
        select c.campaign_id, c.template_comment_id, list(m.comment_id order by m.comment_id)
        from campaigns c left join campaign_members m
          on m.campaign_id = c.campaign_id and m.docket_id = c.docket_id
        where c.docket_id = ?
        group by all order by c.campaign_id
        """,
        [docket_id],
    ).fetchall()
    return [(cid, tpl, {m for m in (members or []) if m is not None}) for cid, tpl, members in rows]


def _previous_themes(con, docket_id) -> list[tuple[str, list[str], bool]]:
    rows = con.execute(
        "select theme_id, keywords, is_catch_all from themes where docket_id = ? order by theme_id", [docket_id]
    ).fetchall()
    return [(tid, list(kw or []), bool(catch)) for tid, kw, catch in rows]


_SCHEMAS = {
    "campaigns": pa.schema([
        ("docket_id", pa.string()), ("campaign_id", pa.string()), ("size", pa.int32()),
        ("exact_copies", pa.int32()), ("submissions_represented", pa.int64()),
        ("members_with_additions", pa.int32()), ("template_comment_id", pa.string()),
        ("template_text", pa.string()), ("first_posted", pa.timestamp("us")), ("last_posted", pa.timestamp("us")),
        ("first_received", pa.timestamp("us")), ("last_received", pa.timestamp("us")),
        ("stance", pa.string()), ("stance_confidence", pa.float64()), ("run_id", pa.string()),
    ]),
    "campaign_members": pa.schema([
        ("docket_id", pa.string()), ("campaign_id", pa.string()), ("comment_id", pa.string()),
        ("similarity", pa.float64()), ("is_template", pa.bool_()), ("is_exact", pa.bool_()),
        ("unique_additions", pa.list_(pa.string())), ("run_id", pa.string()),
    ]),
    "themes": pa.schema([
        ("docket_id", pa.string()), ("theme_id", pa.string()), ("label", pa.string()),
        ("keywords", pa.list_(pa.string())), ("is_catch_all", pa.bool_()), ("rank", pa.int32()),
        ("unique_texts", pa.int32()), ("comments", pa.int32()), ("submissions", pa.int64()),
        ("quotes", pa.list_(pa.struct([("comment_id", pa.string()), ("quote", pa.string())]))),
        ("run_id", pa.string()),
    ]),
    "comment_themes": pa.schema([
        ("docket_id", pa.string()), ("comment_id", pa.string()), ("theme_id", pa.string()),
        ("score", pa.float64()), ("is_primary", pa.bool_()), ("run_id", pa.string()),
    ]),
    "comment_labels": pa.schema([
        ("docket_id", pa.string()), ("comment_id", pa.string()), ("text_hash", pa.string()),
        ("stance", pa.string()), ("stance_confidence", pa.float64()), ("stance_evidence", pa.string()),
        ("stance_source", pa.string()), ("commenter_type", pa.string()), ("commenter_name", pa.string()),
        ("commenter_evidence", pa.string()), ("run_id", pa.string()),
    ]),
    "bursts": pa.schema([
        ("docket_id", pa.string()), ("burst_id", pa.string()), ("campaign_id", pa.string()),
        ("started_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")), ("comments", pa.int32()),
        ("run_id", pa.string()),
    ]),
}


def _write(con, docket_id: str, run_id: str, tables: dict[str, list[dict] | dict[str, list]], *, counts: dict, message) -> None:
    """Replace the docket's analysis rows and close the run, all in one transaction."""
    con.execute("begin transaction")
    try:
        for name in tables:
            # comment-keyed tables: also drop rows of comments that moved dockets
            con.execute(f"delete from {name} where docket_id = ?", [docket_id])
        for name, rows in tables.items():
            if isinstance(rows, dict):  # already columns
                batch = pa.Table.from_pydict(rows, schema=_SCHEMAS[name])
            else:
                batch = pa.Table.from_pylist(rows, schema=_SCHEMAS[name])
            if batch.num_rows == 0:
                continue
            view = f"_analysis_{name}"
            con.register(view, batch)
            try:
                cols = ", ".join(batch.column_names)
                con.execute(f"insert into {name} ({cols}) select {cols} from {view}")
            finally:
                con.unregister(view)
        con.execute(
            """update analysis_runs set status = 'complete', finished_at = ?, comments_analyzed = ?,
                   unique_texts = ?, campaigns = ?, themes = ?, message = ? where run_id = ?""",
            [now_utc(), counts["comments_analyzed"], counts["unique_texts"], counts["campaigns"],
             counts["themes"], message, run_id],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def analysis_status_lines(con: duckdb.DuckDBPyConnection, docket_id: str | None = None) -> list[str]:
    """The last analysis run, for `comments status`: one line (for `docket_id`) or one per docket.

    With a docket: "last analysis 2026-05-01 12:00 UTC: 647 comments, 13 campaigns, 12 themes (run ...)"
    (or "last analysis never ..."); without: the same prefixed by the docket id.
    """
    try:
        rows = con.execute(
            """
            select docket_id, run_id, status, started_at, finished_at, comments_analyzed, campaigns, themes, message
            from analysis_runs
            where ($docket_id is null or docket_id = $docket_id)
            qualify row_number() over (partition by docket_id order by started_at desc, run_id desc) = 1
            order by docket_id
            """,
            {"docket_id": docket_id},
        ).fetchall()
    except duckdb.CatalogException:
        return []
    lines = []
    for d, run, status, started_at, finished, n, camps, themes, message in rows:
        when = finished or started_at
        when_s = when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else str(when)
        head = "last analysis" if docket_id is not None else f"{d}: last analysis"
        if status == "complete":
            lines.append(f"{head} {when_s}: {n:,} comments, {camps:,} campaigns, {themes} themes (run {run})")
        else:
            lines.append(f"{head} {when_s}: {status} (run {run}){': ' + message if message else ''}")
    if docket_id is not None and not lines:
        lines.append(f"last analysis never (run `comments analyze {docket_id}`)")
    return lines
