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

import functools
import gc
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import comments
from comments import store
from comments.analysis import commenters as commenter_rules
from comments.analysis import stance as stance_rules
from comments.analysis import stance_lexicon, stance_selftrained, stance_step
from comments.analysis.campaigns import CampaignParams, Doc, assign_stable_ids, detect_campaigns
from comments.analysis.codebook import Codebook
from comments.analysis.codebook import theme_seeds as codebook_theme_seeds
from comments.analysis.normalize import text_key
from comments.analysis.run_status import INTERRUPTED, analysis_status_lines  # noqa: F401 (the status line lives there)
from comments.analysis.significance import significance_rows
from comments.analysis.themes import (
    ThemeParams,
    Unit,
    find_themes,
    load_previous_themes,
    overall_label,
)
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

    @classmethod
    def from_overrides(cls, overrides: dict[str, str] | None) -> AnalysisParams:
        """Defaults with `{"campaigns.min_containment": "0.5", "burst_window_minutes": "5"}` applied.

        Values are cast to the field's type; an unknown name or a bad value is a one-line InputError
        that lists what can be set.
        """
        params = cls()
        for name, raw in (overrides or {}).items():
            section, _, leaf = name.rpartition(".")
            target = getattr(params, section) if section in ("campaigns", "themes") else params
            if (section and section not in ("campaigns", "themes")) or leaf not in target.__dataclass_fields__ \
                    or leaf in ("campaigns", "themes"):
                raise InputError(f"unknown analysis parameter {name!r}; known: {', '.join(cls.parameter_names())}")
            current = getattr(target, leaf)
            try:
                if isinstance(current, bool):
                    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(raw)
                    value = raw.lower() in ("true", "1", "yes")
                else:
                    value = type(current)(raw)
            except (TypeError, ValueError):
                raise InputError(f"analysis parameter {name} takes a {type(current).__name__}, got {raw!r}") from None
            replaced = replace(target, **{leaf: value})
            params = replace(params, **{section: replaced}) if section else replaced
        return params

    @classmethod
    def parameter_names(cls) -> list[str]:
        p = cls()
        names = [n for n in p.__dataclass_fields__ if n not in ("campaigns", "themes")]
        for section in ("campaigns", "themes"):
            names += [f"{section}.{n}" for n in getattr(p, section).__dataclass_fields__]
        return names


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
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per step
    cpu_timings: dict[str, float] = field(default_factory=dict)  # CPU seconds per step
    peak_mb: dict[str, int] = field(default_factory=dict)  # peak RSS (MB) reached by the end of each step

    def summary(self) -> str:
        return (
            f"{self.docket_id}: {self.comments:,} comments ({self.submissions:,} submissions represented), "
            f"{self.unique_texts:,} unique texts, {self.campaigns:,} campaigns covering "
            f"{self.campaign_members:,} comments, {self.themes} themes, {self.bursts} bursts "
            f"in {self.seconds:.1f}s (run {self.run_id})"
        )


# Only the columns the analysis uses (never `raw`), in two queries: the small
# per-comment columns sorted by comment id, and the texts streamed unsorted (a
# sort or a join would make DuckDB hold every text of the docket at once).
_READ_FIELDS_SQL = """
select comment_id, posted_date, received_date, coalesce(duplicate_comments, 0)::bigint as duplicate_comments,
       category, organization, gov_agency, gov_agency_type, first_name, last_name, title
from comments
where docket_id = ?
order by comment_id
"""
_READ_BODIES_SQL = """
select comment_id, coalesce(body, '') as body, not_read, attachments_unread > 0 as attachments_unread
from comment_bodies where docket_id = ?
"""
_WHO_FIELDS = ("category", "organization", "gov_agency", "gov_agency_type", "first_name", "last_name", "title")
# Columns every analysis row carries with the same value: filled in SQL when written.
_CONSTANT = ("docket_id", "run_id")


def _interner() -> tuple[list, Callable[[object], int]]:
    """(values, number): `number(v)` gives each distinct value a small int, in first-seen order,
    so per-row results can be stored as an index into the few distinct outcomes."""
    values: list = []
    index: dict = {}

    def number(value) -> int:
        k = index.get(value)
        if k is None:
            k = index[value] = len(values)
            values.append(value)
        return k

    return values, number


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
    extra_cues: dict[str, list[str]] | None = None,
    codebook: Codebook | None = None,
) -> AnalysisResult:
    """Run the whole analysis for `docket_id` and store it; raises InputError for an unknown docket.

    `codebook` (the analyst's, `comments.analysis.codebook`): its themes seed and name the
    themes, its cue phrases go to the stance rules, and the run records which one it was.
    `extra_cues` adds more stance cue phrases per position for this docket,
    e.g. {"support": ["reinstate work requirements"], "oppose": [...]}.
    """
    params = params or AnalysisParams()
    started = time.perf_counter()
    require_comments(con, docket_id)
    progress(0, total=STEPS)

    run_id = f"run-{now_utc():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started_at = now_utc()
    code_version = f"{comments.__version__}+{params.digest()}"
    # A run still 'running' was killed (DuckDB admits one writing process per file, and
    # this process starts one run at a time): record it as sync does its own.
    con.execute(
        "update analysis_runs set status = 'failed', message = ? where docket_id = ? and status = 'running'",
        [INTERRUPTED, docket_id],
    )
    con.execute(
        "insert into analysis_runs (run_id, docket_id, started_at, status, code_version, parameters, codebook)"
        " values (?, ?, ?, 'running', ?, ?, ?)",
        [run_id, docket_id, started_at, code_version, params.to_json(), codebook.label if codebook else None],
    )
    try:
        result = _analyze(con, docket_id, params, progress, run_id, started_at, started, codebook, extra_cues)
    except Exception as exc:
        con.execute(
            "update analysis_runs set status = 'failed', finished_at = ?, message = ? where run_id = ?",
            [now_utc(), f"{type(exc).__name__}: {str(exc)[:500]}", run_id],
        )
        raise
    return result


class _Clock:
    """Wall seconds, CPU seconds and peak memory after each step (the machine is shared: CPU matters)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_mb: dict[str, int] = {}
        self._last = (time.perf_counter(), time.process_time())

    def lap(self, step: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.wall[step] = round(now[0] - self._last[0], 3)
        self.cpu[step] = round(now[1] - self._last[1], 3)
        self.peak_mb[step] = _peak_mb()
        self._last = now


def _peak_mb() -> int:
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except ImportError:  # not on this platform
        return 0


def _analyze(con, docket_id, params, progress, run_id, started_at, started, codebook=None, extra_cues=None) -> AnalysisResult:
    clock = _Clock()
    data = _read(con, docket_id)
    n = len(data.ids)
    dups = data.dups
    clock.lap("read")
    progress(1)

    # Stance per distinct text, shared by the campaign detector (which judges the
    # texts on its candidate edges) and the stance step below: each text is
    # classified once. Keyed by the text itself (equal texts are one object, so
    # its hash is computed once): evidence is a verbatim span of THAT text, so
    # two spellings with one normalized key must not share a cached Stance.
    stance_cache: dict[str, stance_rules.Stance] = {}

    own_cues = _merged_cues(codebook.extra_cues() if codebook else None, extra_cues)
    read_own = stance_rules.Reader(own_cues)

    def rules_alone(text: str) -> stance_rules.Stance:
        s = stance_cache.get(text)
        if s is None:
            s = stance_cache[text] = read_own(text)
        return s

    # Phrases the docket's own firmly decided texts teach about its sides (stance_lexicon): they
    # decide only texts the other cues leave unclear, so only those are classified again.
    learned = stance_lexicon.learn(data.bodies, title=_docket_title(con, docket_id), classify=rules_alone,
                                   extra_cues=own_cues)
    cues = stance_lexicon.with_learned(own_cues, learned)
    read_all = stance_rules.Reader(cues)
    # The texts were read once already with the cues the learned phrases are added to (the usual
    # case: the caller's own cues hold no learned phrases), so only the second reading is left.
    read_again = read_all.after_unclear if read_all.own is read_own.cues else read_all
    relearned: set[str] = set()

    def stance_of_text(text: str) -> stance_rules.Stance:
        s = rules_alone(text)
        if s.stance == "unclear" and cues is not own_cues and text not in relearned:
            s = stance_cache[text] = read_again(text)
            relearned.add(text)
        return s

    # Campaigns (helper E's detector), judged by stance so opposites never merge.
    # (The detector reads only comment ids and texts.)
    docs = [Doc(cid, data.bodies[b]) for cid, b in zip(data.ids, data.body_no.tolist(), strict=True)]
    found = detect_campaigns(docs, params.campaigns, stance_of=lambda t: stance_of_text(t).stance)
    del docs
    previous = _previous_campaigns(con, docket_id)
    campaign_ids = assign_stable_ids(found, previous)
    clock.lap("campaigns")
    progress(1)

    index = {cid: i for i, cid in enumerate(data.ids)}
    members_at = [np.fromiter((index[m.comment_id] for m in camp.members), dtype=np.int64, count=len(camp.members))
                  for camp in found]
    del index
    in_campaign = np.zeros(n, dtype=bool)
    for idx in members_at:
        in_campaign[idx] = True

    # text_hash: one normalization per distinct text (labels are resolved by it).
    hashes = [text_key(t) for t in data.bodies]
    exact_unique = len(set(hashes))

    # The texts the rules leave unclear, read by a classifier trained on this docket's firmly decided
    # texts (stance_selftrained; after the campaigns, which are judged by the rules' own verdicts).
    docket_model = stance_selftrained.train(data.bodies, stance_of_text)
    filled = stance_selftrained.fill(docket_model, data.bodies, stance_of_text)

    def rules_as_run(text: str) -> stance_rules.Stance:
        s = filled.get(text)
        return s if s is not None else stance_of_text(text)

    # Stance per comment: analyst labels, a per-docket model or the rules, then `not read`
    # (stance_step); copies inherit their campaign template's stance.
    labels = {"comment_id": data.comment_id_array}
    decided = stance_step.decide(
        con, docket_id, run_id, ids=data.ids, bodies=data.bodies, body_no=data.body_no, hashes=hashes,
        not_read=data.not_read, unread_attachments=data.unread_attachments, campaigns=found,
        campaign_ids=campaign_ids, members_at=members_at, in_campaign=in_campaign,
        rules_of_text=rules_as_run, extra_cues=cues,
    )
    own_rows = np.flatnonzero(~in_campaign)
    stance_cache.clear()  # (a dict the detector's callback closes over: emptied, not deleted)
    relearned.clear()
    labels.update(decided.columns)
    template_stance = decided.template_stance
    stance_model_row = decided.model_row
    stance_notes = [stance_summary(stance_model_row), *decided.notes, *stance_lexicon.describe(learned)]
    if stance_model_row["method"] == "rules":  # (a model trained on labels decides those texts instead)
        stance_notes += stance_selftrained.describe(docket_model, filled)
    del decided, docket_model
    filled.clear()
    clock.lap("stance")
    progress(1)

    # Who commented: each distinct combination of fields once, each text once.
    labels.update(_commenters(data))
    labels["text_hash"] = pa.array(hashes, pa.string()).take(pa.array(data.body_no))
    del hashes
    clock.lap("commenters_hash")
    progress(1)

    # Campaign rows, members and bursts.
    posted, received = data.posted, data.received
    camp_cols: dict[str, list] = {name: [] for name in _SCHEMAS["campaigns"].names if name not in _CONSTANT}
    member_cols: dict[str, list] = {name: [] for name in _SCHEMAS["campaign_members"].names if name not in _CONSTANT}
    also_cols: dict[str, list] = {name: [] for name in _SCHEMAS["campaign_also_copies"].names if name not in _CONSTANT}
    for camp, idx in zip(found, members_at, strict=True):
        camp_id = campaign_ids[camp.key]
        tpl = template_stance[camp_id]
        for name, value in (
            ("campaign_id", camp_id), ("size", len(camp.members)),
            ("exact_copies", sum(1 for m in camp.members if m.is_exact)),
            ("submissions_represented", len(idx) + int(dups[idx].sum())),
            ("members_with_additions", sum(1 for m in camp.members if m.unique_additions)),
            ("template_comment_id", camp.template_comment_id), ("template_text", camp.template_text),
            ("first_posted", _when(posted[idx], min)), ("last_posted", _when(posted[idx], max)),
            ("first_received", _when(received[idx], min)), ("last_received", _when(received[idx], max)),
            ("stance", tpl.stance), ("stance_confidence", float(tpl.confidence)),
            ("contained_in", sorted(campaign_ids[key] for key, _ in camp.contained_in)),
        ):
            camp_cols[name].append(value)
        n_members = len(camp.members)
        member_cols["campaign_id"].extend([camp_id] * n_members)
        member_cols["comment_id"].extend(m.comment_id for m in camp.members)
        member_cols["similarity"].extend(float(m.similarity) for m in camp.members)
        member_cols["is_template"].extend(m.comment_id == camp.template_comment_id for m in camp.members)
        member_cols["is_exact"].extend(bool(m.is_exact) for m in camp.members)
        member_cols["unique_additions"].extend(list(m.unique_additions or []) for m in camp.members)
        also_cols["campaign_id"].extend([camp_id] * len(camp.also_copies))
        also_cols["comment_id"].extend(a.comment_id for a in camp.also_copies)
        also_cols["template_share"].extend(a.template_share for a in camp.also_copies)
    n_members = len(member_cols["comment_id"])
    burst_rows, notes = _bursts(docket_id, found, campaign_ids, None, received, params, run_id, members_at=members_at)
    notes = stance_notes + notes

    # Themes over unique texts: each campaign once (its template), each singleton comment.
    units = []
    campaign_unit_comments: dict[str, list[str]] = {}
    for camp, idx in zip(found, members_at, strict=True):
        camp_id = campaign_ids[camp.key]
        key = f"campaign:{camp_id}"
        members = [m.comment_id for m in camp.members]
        campaign_unit_comments[key] = members
        units.append(Unit(key, camp.template_comment_id, camp.template_text, len(members),
                          len(members) + int(dups[idx].sum())))
    n_campaigns = len(found)
    # each unique text's stance, to name a theme that has no specific phrase of its own
    unit_stance = {f"campaign:{camp_id}": st.stance for camp_id, st in template_stance.items()}
    unit_stance.update(zip(data.comment_id_array.take(pa.array(own_rows)).to_pylist(),
                           labels["stance"].take(pa.array(own_rows)).to_pylist(), strict=True))
    del found, members_at, template_stance
    own_dups = dups[own_rows].tolist()
    for j, i in enumerate(own_rows.tolist()):
        cid = data.ids[i]
        units.append(Unit(cid, cid, data.bodies[data.body_no[i]], 1, 1 + own_dups[j]))
    del own_dups
    submissions = n + int(dups.sum())
    n_units = len(units)
    # The texts now live in `units` (and the labels in Arrow): drop the rest.
    del data, posted, received, dups, own_rows, in_campaign
    gc.collect()
    clock.lap("campaign_rows_bursts")
    progress(1)

    significance = significance_rows(units)
    clock.lap("significance")
    previous, names, afresh = _theme_seeds(con, docket_id, codebook, params.themes)
    context, title = _docket_context(con, docket_id)
    themes = find_themes(units, params.themes, previous=previous, context=context, title=title, afresh=afresh,
                         seen=_seen_units(con, docket_id, units) if previous else frozenset(),
                         stance_name=functools.partial(_stance_name, names, unit_stance, campaign_unit_comments,
                                                       context))
    del units
    clock.lap("themes")
    theme_rows = []
    used_labels: set[str] = set()
    for rank, t in enumerate(themes.themes, start=1):
        label = names.get(t.theme_id) or t.label or _stance_name(
            names, unit_stance, campaign_unit_comments, context, t.theme_id, t.unit_keys, t.keywords)
        if label.lower() in used_labels:  # two themes named by their stance: tell them apart
            label = f"{label} ({next((k for k in t.keywords if k.lower() not in label.lower()), t.theme_id)})"
        used_labels.add(label.lower())
        theme_rows.append({
            "theme_id": t.theme_id, "label": label, "keywords": t.keywords,
            "is_catch_all": t.is_catch_all, "rank": rank, "unique_texts": t.unique_texts,
            "comments": t.comments, "submissions": t.submissions, "quotes": t.quotes,
        })
    ct_cols: dict[str, list] = {"comment_id": [], "theme_id": [], "score": [], "is_primary": []}
    for key, scores in themes.assignments.items():
        comment_ids = campaign_unit_comments.get(key) or [key]  # a singleton's unit key is its comment id
        for pos, (theme_id, score) in enumerate(scores):
            ct_cols["comment_id"].extend(comment_ids)
            ct_cols["theme_id"].extend([theme_id] * len(comment_ids))
            ct_cols["score"].extend([float(round(score, 6))] * len(comment_ids))
            ct_cols["is_primary"].extend([pos == 0] * len(comment_ids))
    del themes, campaign_unit_comments, unit_stance
    clock.lap("theme_rows")
    progress(1)

    _write(con, docket_id, run_id, {
        "campaigns": camp_cols, "campaign_members": member_cols, "campaign_also_copies": also_cols,
        "themes": theme_rows,
        "comment_themes": ct_cols, "comment_labels": labels, "bursts": burst_rows,
        "comment_significance": significance,
    }, counts={
        "comments_analyzed": n, "unique_texts": n_units, "campaigns": n_campaigns,
        "themes": len(theme_rows),
    }, message="; ".join(notes) or None, append={"stance_models": [stance_model_row]})
    clock.lap("write")
    progress(1)
    return AnalysisResult(
        run_id=run_id, docket_id=docket_id, comments=n, submissions=submissions,
        unique_texts=n_units, exact_unique_texts=exact_unique, campaigns=n_campaigns,
        campaign_members=n_members, singletons=n - n_members, themes=len(theme_rows),
        bursts=len(burst_rows), seconds=time.perf_counter() - started, notes=notes, timings=clock.wall,
        cpu_timings=clock.cpu, peak_mb=clock.peak_mb,
    )


def _stance_name(names: dict[str, str], unit_stance: dict[str, str], campaign_unit_comments: dict[str, list[str]],
                 context: str, theme_id: str, unit_keys: list[str], keywords: list[str]) -> str | None:
    """The name of a theme with nothing specific to say: its texts' stance on the whole, a
    campaign's text weighing its copies (`overall_label`); None for a theme the analyst named."""
    if names.get(theme_id):
        return None
    return overall_label(keywords, [unit_stance.get(k, "unclear") for k in unit_keys], context,
                         [len(campaign_unit_comments.get(k) or (k,)) for k in unit_keys])


def _theme_seeds(con, docket_id: str, codebook: Codebook | None, theme_params: ThemeParams | None = None):
    """(previous themes for `find_themes`, theme_id -> the analyst's name, whether to cluster afresh).

    With a codebook that lists themes, they are the seeds (by their words; texts are free to
    move, so a split or a merge takes effect) and name the themes they become; the last
    run's catch-all keeps its id. Otherwise the last run's themes, with the texts they held,
    unless the last run used other theme parameters (or an older method, `ThemeParams.method`):
    then texts are clustered afresh and ids carried by keyword overlap only.
    """
    previous = load_previous_themes(con, docket_id)
    if codebook is None or not codebook.themes:
        afresh = bool(previous) and theme_params is not None \
            and _last_theme_params(con, docket_id) != json.loads(json.dumps(asdict(theme_params)))
        return previous, {}, afresh
    seeds, names = codebook_theme_seeds(codebook, [p.theme_id for p in previous])
    return seeds + [(p.theme_id, [], True) for p in previous if p.is_catch_all], names, False


def _seen_units(con, docket_id: str, units: list[Unit]) -> set[str]:
    """Keys of the units whose text the last analysis already had (its `comment_labels` rows are
    still in place while this run computes): a text in no theme last time is not new now."""
    known = {cid for (cid,) in con.execute(
        "select comment_id from comment_labels where docket_id = ?", [docket_id]).fetchall()}
    return {u.key for u in units if u.comment_id in known}


def _last_theme_params(con, docket_id: str) -> dict | None:
    """The theme parameters of the docket's last complete analysis (None if unknown)."""
    row = con.execute(
        "select parameters from analysis_runs where docket_id = ? and status = 'complete' "
        "order by started_at desc limit 1", [docket_id]).fetchone()
    try:
        return (json.loads(row[0]) or {}).get("themes") if row and row[0] else None
    except (TypeError, ValueError):
        return None


def _docket_context(con, docket_id: str) -> tuple[str, str]:
    """(the docket's title and abstract: what theme labels must not repeat, its title alone).
    A docket known only from a bulk CSV has no title: its notice's (or rule's) title stands in."""
    row = con.execute("select title, abstract from dockets where docket_id = ?", [docket_id]).fetchone()
    title = (row[0] if row else None) or ""
    if not title:
        doc = con.execute(
            """select title from documents where docket_id = ? and title is not null
               order by case document_type when 'Proposed Rule' then 0 when 'Rule' then 1 when 'Notice' then 2
                        else 3 end, posted_date nulls last, document_id limit 1""", [docket_id]).fetchone()
        title = doc[0] if doc else ""
    return " ".join(p for p in (title, row[1] if row else None) if p), title


def _docket_title(con, docket_id: str) -> str:
    """The docket's title and its documents' titles (what the proposal is called), one per line."""
    rows = con.execute("""select title from dockets where docket_id = ? union
                          select title from documents where docket_id = ?""", [docket_id, docket_id]).fetchall()
    return "\n".join(sorted(t for (t,) in rows if t))


def _merged_cues(*sources: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """Stance cue phrases per position from the codebook and the caller, in that order, once each."""
    merged: dict[str, list[str]] = {}
    for cues in sources:
        for position, phrases in (cues or {}).items():
            merged.setdefault(position, [])
            merged[position] += [p for p in phrases if p not in merged[position]]
    return merged or None


def _when(values: np.ndarray, pick) -> datetime | None:
    """min/max of datetime64 values as a datetime, None when all are missing."""
    values = values[~np.isnat(values)]
    if not len(values):
        return None
    return (values.min() if pick is min else values.max()).astype("datetime64[us]").item()


def _commenters(data: _Comments) -> dict[str, pa.Array]:
    """commenter_type / _name / _evidence per comment (Arrow columns).

    `commenters.classify` in its three parts, each over distinct inputs only:
    the form fields and title once per distinct combination (`who_no`), the
    text once per distinct text, the names and category once per combination.
    """
    combos = data.who.to_pylist()
    outcomes, number = _interner()

    by_fields = np.full(len(combos), -1, dtype=np.int64)
    by_names = np.empty(len(combos), dtype=np.int64)
    may_be_affiliation = np.zeros(len(combos), dtype=bool)  # an organization beside a named person
    for c, f in enumerate(combos):
        who = commenter_rules.from_fields(
            organization=f["organization"], gov_agency=f["gov_agency"], gov_agency_type=f["gov_agency_type"],
            first_name=f["first_name"], last_name=f["last_name"], title=f["title"],
        )
        if who is not None:
            by_fields[c] = number(who)
            may_be_affiliation[c] = commenter_rules.may_be_affiliation(
                who, person=commenter_rules.names_person(f["first_name"], f["last_name"], f["title"]))
        by_names[c] = number(commenter_rules.from_names(
            category=f["category"], first_name=f["first_name"], last_name=f["last_name"], title=f["title"]))
    row = by_fields[data.who_no]
    # An affiliation, not an organization's comment, when the text speaks for the person (per distinct
    # combination and text; `commenters.affiliation`).
    check = np.flatnonzero(may_be_affiliation[data.who_no])
    if len(check):
        decided: dict[tuple[int, int], int] = {}
        for i in check.tolist():
            key = (int(data.who_no[i]), int(data.body_no[i]))
            if key not in decided:
                decided[key] = number(commenter_rules.affiliation(
                    outcomes[by_fields[key[0]]], data.bodies[key[1]], person=True))
            row[i] = decided[key]
    undecided = row < 0
    by_text = np.full(len(data.bodies), -1, dtype=np.int64)
    for b in np.unique(data.body_no[undecided]).tolist():
        who = commenter_rules.from_text(data.bodies[b])
        if who is not None:
            by_text[b] = number(who)
    from_text = by_text[data.body_no]
    row = np.where(undecided, np.where(from_text >= 0, from_text, by_names[data.who_no]), row)
    take = pa.array(row)
    return {
        "commenter_type": pa.array([o.type for o in outcomes], pa.string()).take(take),
        "commenter_name": pa.array([o.name for o in outcomes], pa.string()).take(take),
        "commenter_evidence": pa.array([o.evidence for o in outcomes], pa.string()).take(take),
    }


@dataclass
class _Comments:
    """A docket's comments as columns, in comment id order."""

    ids: list[str]
    comment_id_array: pa.ChunkedArray
    bodies: list[str]          # distinct effective texts
    body_no: np.ndarray        # per comment: its text's position in `bodies`
    posted: np.ndarray         # datetime64[us], NaT when missing
    received: np.ndarray
    dups: np.ndarray           # int64 duplicate_comments
    not_read: np.ndarray       # per comment: substance in attachments not read (comment_bodies.not_read)
    unread_attachments: np.ndarray  # per comment: attachments listed without text
    who: pa.Table              # one row per distinct combination of _WHO_FIELDS
    who_no: np.ndarray         # per comment: its row in `who`


def _read(con, docket_id: str, batch: int = 50_000) -> _Comments:
    """The docket's comments as columns, read as Arrow batches; each distinct text kept once.

    Campaign copies repeat the same (often long) text thousands of times: the
    texts are deduplicated per batch in Arrow (dictionary encoding) and then
    across batches, so a million-comment docket holds each text once as a
    Python string, and no Python object per row for the other columns. The
    fields that decide who commented are numbered by distinct combination
    (`who_no`), so each combination is classified once.
    """
    fields = con.sql(_READ_FIELDS_SQL, params=[docket_id]).to_arrow_table()
    ids_array = fields.column("comment_id")
    n = fields.num_rows
    combo_no: dict[tuple, int] = {}
    who_no = np.empty(n, dtype=np.int64)
    pos = 0
    for rb in fields.select(list(_WHO_FIELDS)).to_batches(batch):
        for tup in zip(*(rb.column(f).to_pylist() for f in _WHO_FIELDS), strict=True):
            k = combo_no.get(tup)
            if k is None:
                k = combo_no[tup] = len(combo_no)
            who_no[pos] = k
            pos += 1
    who = pa.Table.from_pylist([dict(zip(_WHO_FIELDS, tup, strict=True)) for tup in combo_no],
                               schema=pa.schema([(f, pa.string()) for f in _WHO_FIELDS]))
    del combo_no
    posted = _datetimes(fields.column("posted_date"))
    received = _datetimes(fields.column("received_date"))
    dups = fields.column("duplicate_comments").to_numpy().astype(np.int64)
    del fields

    id_values = ids_array.combine_chunks()
    text_no: dict[str, int] = {}
    bodies: list[str] = []
    body_no = np.full(n, -1, dtype=np.int64)
    not_read = np.zeros(n, dtype=bool)
    unread = np.zeros(n, dtype=bool)
    for rb in con.sql(_READ_BODIES_SQL, params=[docket_id]).to_arrow_reader(batch):
        at = pc.index_in(rb.column("comment_id"), value_set=id_values).to_numpy(zero_copy_only=False)
        not_read[at] = pc.fill_null(rb.column("not_read"), False).to_numpy(zero_copy_only=False)
        unread[at] = pc.fill_null(rb.column("attachments_unread"), False).to_numpy(zero_copy_only=False)
        enc = pc.dictionary_encode(rb.column("body"))
        local = np.empty(len(enc.dictionary), dtype=np.int64)
        for k, text in enumerate(enc.dictionary.to_pylist()):
            g = text_no.get(text)
            if g is None:
                g = text_no[text] = len(bodies)
                bodies.append(text)
            local[k] = g
        body_no[at] = local[enc.indices.to_numpy(zero_copy_only=False)]
    del text_no, id_values
    if (body_no < 0).any():  # the view has one row per comment: this would be a bug there
        raise RuntimeError("comment_bodies is missing comments of the docket")
    return _Comments(
        ids=ids_array.to_pylist(), comment_id_array=ids_array, bodies=bodies, body_no=body_no,
        posted=posted, received=received, dups=dups, who=who, who_no=who_no,
        not_read=not_read, unread_attachments=unread,
    )


def _datetimes(column: pa.Array) -> np.ndarray:
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = column.cast(pa.timestamp(column.type.unit))
    return column.to_numpy(zero_copy_only=False).astype("datetime64[us]")


def _bursts(docket_id, found, campaign_ids, index, received, params, run_id, *, members_at=None):
    """Bursts: many copies of one campaign received within burst_window_minutes.

    `received` holds one time per comment (a list, or datetime64 values); a
    campaign's members are found through `index` (comment id -> position) or,
    when given, `members_at` (per campaign, the positions of its members).
    Many agencies record only the day a comment was received (every time stamp
    at the same clock time); minutes cannot be judged then, so no bursts are
    reported and a note says why.
    """
    received = np.asarray(received, dtype="datetime64[us]")
    times = received[~np.isnat(received)]
    if not len(times):
        return [], ["no received dates: bursts not computed"]
    clock = (times - times.astype("datetime64[s]").astype("datetime64[D]")).astype("timedelta64[s]").astype(np.int64)
    if len(times) >= 20 and np.unique(clock, return_counts=True)[1].max() >= 0.9 * len(times):
        return [], ["received dates carry no time of day: bursts not computed"]
    window = np.timedelta64(params.burst_window_minutes * 60_000_000, "us")
    rows = []
    if members_at is None:
        members_at = [np.array([index[m.comment_id] for m in camp.members], dtype=np.int64) for camp in found]
    for camp, idx in sorted(zip(found, members_at, strict=True), key=lambda pair: campaign_ids[pair[0].key]):
        ts = received[idx]
        ts = np.sort(ts[~np.isnat(ts)])
        if len(ts) < params.burst_min_comments:
            continue
        # A burst stands out from the campaign's own pace: at least burst_min_comments
        # in the window AND burst_rate_factor times what its average rate would put there.
        span_minutes = max(float((ts[-1] - ts[0]) / np.timedelta64(1, "s")) / 60, params.burst_window_minutes)
        expected = len(ts) / span_minutes * params.burst_window_minutes
        need = max(params.burst_min_comments, math.ceil(params.burst_rate_factor * expected))
        # last[i]: the last comment within the window that starts at comment i
        last = np.searchsorted(ts, ts + window, side="right") - 1
        spans: list[list[int]] = []
        for i in np.flatnonzero(last - np.arange(len(ts)) + 1 >= need).tolist():
            j = int(last[i])
            if spans and i <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], j)
            else:
                spans.append([i, j])
        for a, b in spans:
            rows.append({
                "docket_id": docket_id, "burst_id": "", "campaign_id": campaign_ids[camp.key],
                "started_at": ts[a].item(), "ended_at": ts[b].item(), "comments": b - a + 1, "run_id": run_id,
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


def stance_summary(row: dict) -> str:
    """How stance was decided this run, in one line (the CLI's note; the briefing says the same)."""
    if row["method"] == "model":
        line = (f"stance: model trained on {row['n_labels']} labels of this docket, {row['accuracy']:.2f} +/- "
                f"{row['accuracy_sd'] or 0:.2f} accuracy ({row['folds']}-fold, grouped by campaign)")
    elif row["n_labels"] and row["accuracy"] is not None:
        line = (f"stance: rules only; they agree with {row['accuracy']:.2f} of the {row['n_labels']} labeled texts "
                f"of this docket")
    elif row.get("check_n"):
        line = "stance: rules only"
    else:
        return "stance: rules only, not measured on this docket"
    if row.get("check_n"):
        line += (f"; on {row['check_n']} check labels (random, blind) {row['check_accuracy']:.2f} "
                 f"(95% interval {row['check_low']:.2f}-{row['check_high']:.2f})")
    return line


_SCHEMAS = {
    "campaigns": pa.schema([
        ("docket_id", pa.string()), ("campaign_id", pa.string()), ("size", pa.int32()),
        ("exact_copies", pa.int32()), ("submissions_represented", pa.int64()),
        ("members_with_additions", pa.int32()), ("template_comment_id", pa.string()),
        ("template_text", pa.string()), ("first_posted", pa.timestamp("us")), ("last_posted", pa.timestamp("us")),
        ("first_received", pa.timestamp("us")), ("last_received", pa.timestamp("us")),
        ("stance", pa.string()), ("stance_confidence", pa.float64()), ("run_id", pa.string()),
        ("contained_in", pa.list_(pa.string())),
    ]),
    "campaign_members": pa.schema([
        ("docket_id", pa.string()), ("campaign_id", pa.string()), ("comment_id", pa.string()),
        ("similarity", pa.float64()), ("is_template", pa.bool_()), ("is_exact", pa.bool_()),
        ("unique_additions", pa.list_(pa.string())), ("run_id", pa.string()),
    ]),
    "campaign_also_copies": pa.schema([
        ("docket_id", pa.string()), ("campaign_id", pa.string()), ("comment_id", pa.string()),
        ("template_share", pa.float64()), ("run_id", pa.string()),
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
    "comment_significance": pa.schema([
        ("docket_id", pa.string()), ("comment_id", pa.string()), ("score", pa.float64()), ("rank", pa.int32()),
        ("signals", pa.list_(pa.string())), ("key_sentence", pa.string()), ("run_id", pa.string()),
    ]),
    "bursts": pa.schema([
        ("docket_id", pa.string()), ("burst_id", pa.string()), ("campaign_id", pa.string()),
        ("started_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")), ("comments", pa.int32()),
        ("run_id", pa.string()),
    ]),
}


def _write(con, docket_id: str, run_id: str, tables: dict[str, list[dict] | dict[str, list | pa.Array]], *,
           counts: dict, message, append: dict[str, list[dict]] | None = None) -> None:
    """Replace the docket's analysis rows and close the run, all in one transaction.

    A table is rows (dicts) or columns (lists or Arrow arrays); `docket_id` and
    `run_id`, when a table does not carry them, are filled in by the insert.
    `append` tables keep their earlier rows (one more row per run: history).
    """
    con.execute("begin transaction")
    try:
        for name, rows in (append or {}).items():
            store.upsert(con, name, rows, key=["docket_id", "run_id"])
        for name in tables:
            # comment-keyed tables: also drop rows of comments that moved dockets
            con.execute(f"delete from {name} where docket_id = ?", [docket_id])
        for name in list(tables):
            rows = tables.pop(name)  # dropped as soon as it is written
            schema = _SCHEMAS[name]
            present = set(rows) if isinstance(rows, dict) else set(rows[0]) if rows else set(schema.names)
            schema = pa.schema([f for f in schema if f.name in present or f.name not in _CONSTANT])
            if isinstance(rows, dict):  # already columns
                batch = pa.Table.from_pydict(rows, schema=schema)
            else:
                batch = pa.Table.from_pylist(rows, schema=schema)
            del rows
            if batch.num_rows == 0:
                continue
            view = f"_analysis_{name}"
            con.register(view, batch)
            try:
                cols = [f.name for f in _SCHEMAS[name]]
                exprs = [c if c in batch.column_names else f"${c}" for c in cols]
                con.execute(f"insert into {name} ({', '.join(cols)}) select {', '.join(exprs)} from {view}",
                            {c: v for c, v in (("docket_id", docket_id), ("run_id", run_id)) if c not in batch.column_names})
            finally:
                con.unregister(view)
            del batch
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


