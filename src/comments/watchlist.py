"""The watchlist: which dockets to track, the plan for each, and running the plan (fan-out).

An orchestration module: it sits above sync, attachments, analysis, the
briefing and `comments.changes`, and composes their stages (`comments.runs`,
the one definition of each); nothing below imports it.

- **Config**: `load_watchlist(path)` reads the TOML file (docs/tracking.md):
  dockets, searches, where the database and the briefings go.
- **Discoveries**: each search runs through `comments.discover`; what it
  found before is remembered in `tracking_discoveries`, so only new finds are
  reported.
- **Plan**: `plan_dockets` turns the watchlist (and the searches' finds marked
  `sync = true`) into one `DocketPlan` per docket: the stages to run, in order
  (sync, attachments, analyze, changes, brief), and where outputs go.
- **Steps**: one function per stage (`sync_step`, ... `brief_step`), each a
  call into `comments.runs` with plain parameters (the database by path), so a
  Prefect task or a deployment run on another worker can run it.
- **Fan-out**: `fan_out(plans, run_stage, parallel=N)` runs each docket's
  stages in order, N dockets at a time; a docket stops at its first failed
  stage and the others go on. `run_stage` says how a stage runs: in this
  process (`run_watchlist`: `comments track` and the `track` flow, whose
  stage runner makes each step a task) or as a run of a Prefect deployment on
  some worker (the `plan-watchlist` flow, flows/watchlist.py).
"""

from __future__ import annotations

import contextvars
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from comments import runs
from comments.briefing.changes_file import md_escape, safe_file_stem
from comments.changes import now_utc
from comments.errors import InputError

STAGES = ("sync", "attachments", "analyze", "changes", "brief")
# The stages that write the docket: with shared limits each holds the docket's one-writer lock.
WRITING_STAGES = ("sync", "attachments", "analyze", "changes")
DEFAULT_WATCHLIST = "watchlist.toml"


def default_watchlist() -> str:
    """$COMMENTS_WATCHLIST, else watchlist.toml in the current directory."""
    return os.environ.get("COMMENTS_WATCHLIST") or DEFAULT_WATCHLIST


# --------------------------------------------------------------------------- watchlist file

# ASCII only (\Z, not $: a trailing newline is not part of an id).
DOCKET_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:[-_][A-Za-z0-9]+)+\Z", re.ASCII)


@dataclass(frozen=True)
class SearchEntry:
    term: str
    agency: str | None = None
    open: bool = False
    sync: bool = False
    limit: int = 25

    @property
    def key(self) -> str:
        return f"{self.term.lower()}|{(self.agency or '').upper()}|{int(self.open)}"


@dataclass
class Watchlist:
    path: Path | None
    db: Path | None = None
    out_dir: Path = Path("briefings")
    brief_format: str = "html"
    dockets: list[str] = field(default_factory=list)
    searches: list[SearchEntry] = field(default_factory=list)


def load_watchlist(path: str | Path) -> Watchlist:
    """Parse and validate a watchlist TOML file (see docs/tracking.md); InputError on mistakes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no watchlist at {path}: create one (see docs/tracking.md) or pass --watchlist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"watchlist {path} is not valid TOML: {exc}") from None
    return parse_watchlist(data, path=path)


def parse_watchlist(data: dict, *, path: Path | None = None) -> Watchlist:
    where = f"watchlist {path}" if path else "watchlist"
    base = path.parent if path else Path(".")
    unknown = set(data) - {"settings", "docket", "search"}
    if unknown:
        raise InputError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} (expected settings, docket, search)")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise InputError(f"{where}: [settings] must be a table")
    wl = Watchlist(path=path)
    if settings.get("db"):
        wl.db = _relative(base, settings["db"])
    if settings.get("out_dir"):
        wl.out_dir = _relative(base, settings["out_dir"])
    else:
        wl.out_dir = base / "briefings"
    fmt = str(settings.get("format", "html")).lower().lstrip(".")
    if fmt not in ("html", "md", "docx"):
        raise InputError(f"{where}: settings.format must be html, md or docx, got {fmt!r}")
    wl.brief_format = fmt
    dockets = data.get("docket") or []
    if not isinstance(dockets, list):
        raise InputError(f"{where}: dockets are [[docket]] entries with an id")
    for i, entry in enumerate(dockets, start=1):
        docket_id = str((entry or {}).get("id", "")).strip() if isinstance(entry, dict) else ""
        if not DOCKET_ID.match(docket_id):
            raise InputError(f"{where}: [[docket]] number {i} needs an id like \"DHS-2025-0001\", got {docket_id!r}")
        if docket_id not in wl.dockets:
            wl.dockets.append(docket_id)
    searches = data.get("search") or []
    if not isinstance(searches, list):
        raise InputError(f"{where}: searches are [[search]] entries with a term")
    for i, entry in enumerate(searches, start=1):
        if not isinstance(entry, dict) or not str(entry.get("term", "")).strip():
            raise InputError(f"{where}: [[search]] number {i} needs a term")
        agency = entry.get("agency")
        if agency is not None and not re.fullmatch(r"[A-Za-z0-9-]{2,20}", str(agency)):
            raise InputError(f"{where}: [[search]] number {i} has a malformed agency {agency!r}")
        limit = entry.get("limit", 25)
        if not isinstance(limit, int) or not 1 <= limit <= 250:
            raise InputError(f"{where}: [[search]] number {i}: limit must be a whole number from 1 to 250")
        wl.searches.append(
            SearchEntry(
                term=str(entry["term"]).strip(),
                agency=str(agency).upper() if agency else None,
                open=bool(entry.get("open", False)),
                sync=bool(entry.get("sync", False)),
                limit=limit,
            )
        )
    if not wl.dockets and not wl.searches:
        raise InputError(f"{where} lists no [[docket]] and no [[search]]: nothing to track")
    return wl


def _relative(base: Path, value) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else base / p


# --------------------------------------------------------------------------- discoveries


def record_discoveries(
    con: duckdb.DuckDBPyConnection, search: SearchEntry, found: list[dict], *, seen_at: datetime | None = None
) -> list[dict]:
    """Remember what a watchlist search found; return only the finds not reported before.

    `found` items are `comments.discover` results (dicts with kind, id, docket_id, title).
    """
    if not found:
        return []
    seen_at = seen_at or now_utc()
    known = {
        (k, i) for k, i in con.execute(
            "select kind, item_id from tracking_discoveries where term_key = ?", [search.key]
        ).fetchall()
    }
    new = [f for f in found if (f["kind"], f["id"]) not in known]
    if new:
        from comments import store

        store.upsert(
            con,
            "tracking_discoveries",
            [
                {"term_key": search.key, "kind": f["kind"], "item_id": f["id"], "docket_id": f.get("docket_id"),
                 "title": f.get("title"), "first_seen": seen_at}
                for f in new
            ],
            ["term_key", "kind", "item_id"],
        )
    return new


def render_discoveries_markdown(results: list[tuple[SearchEntry, list[dict], list[dict]]]) -> str:
    """Markdown for each watchlist search: what it found and which finds are new since the last run."""
    lines = ["## Watchlist searches", ""]
    for search, found, new in results:
        label = f"“{md_escape(search.term)}”" + (f", agency {md_escape(search.agency)}" if search.agency else "") + (
            ", open for comment" if search.open else "")
        lines.append(f"### {label}")
        lines.append("")
        lines.append(f"{len(found)} found, {len(new)} new since the last run.")
        lines.append("")
        new_ids = {(f["kind"], f["id"]) for f in new}
        for f in found:
            mark = "**new** " if (f["kind"], f["id"]) in new_ids else ""
            count = f.get("comment_count")
            count_text = "comments unknown" if count is None else f"{count:,} comments"
            lines.append(
                f"- {mark}{f['kind']} [{md_escape(f['id'])}]({f.get('url') or ''}) — {md_escape(f.get('title'))} "
                f"({count_text})"
            )
        lines.append("")
    return "\n".join(lines)



def write_searches_markdown(out_dir: str | Path, result: WatchlistRun) -> Path:
    text = render_discoveries_markdown([(s["search"], s["found"], s["new"]) for s in result.searches])
    if result.search_errors:
        text += "\n### Searches that failed\n\n" + "\n".join(f"- {md_escape(e)}" for e in result.search_errors) + "\n"
    path = Path(out_dir) / "watchlist-searches.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- steps
#
# Each step is a call into `comments.runs` with the database by path, so the Prefect
# flows run the very same functions as tasks, or as deployment runs on other workers.


def _client(client, pacer):
    if client is not None:
        return client
    from comments.client import RegulationsClient

    return RegulationsClient(pacer=pacer)


def sync_step(
    db: str | Path, docket_id: str, *, client=None, pacer=None, max_comments: int | None = None,
) -> dict:
    """Bring the docket up to date from the API (its attachments are the next step)."""
    return runs.sync_docket(db, _client(client, pacer), docket_id, max_comments=max_comments, no_attachments=True)


def attachments_step(db: str | Path, docket_id: str, *, download_pacer=None) -> dict:
    """The docket's own documents' text, then its pending attachment files."""
    return runs.fetch_attachments(docket_id, db, pacer=download_pacer)


def analyze_step(db: str | Path, docket_id: str) -> dict:
    """Campaigns, themes, stance, commenters."""
    return runs.analyze(docket_id, db)


def changes_step(db: str | Path, docket_id: str, out_dir: str | Path) -> dict:
    """Diff with the last run, save the snapshot, write `<out_dir>/<docket>.changes.md`."""
    return runs.record_changes(docket_id, db, out_dir)


def briefing_path(out_dir: str | Path, docket_id: str, fmt: str = "html") -> Path:
    return Path(out_dir) / f"{safe_file_stem(docket_id)}.{fmt}"


def brief_step(
    db: str | Path, docket_id: str, out_dir: str | Path, fmt: str = "html", changes: dict | None = None,
) -> dict:
    """Write the docket's briefing next to the changes file.

    `changes` is this run's `changes_step` result: the briefing then opens with
    "What changed since the last run" (None: no such section, e.g. when the
    changes step was skipped).
    """
    out = briefing_path(out_dir, docket_id, fmt)
    runs.brief(docket_id, db, out, changes=changes)
    return {"docket_id": docket_id, "path": str(out)}


def search_step(db: str | Path, search: SearchEntry, *, client=None, pacer=None) -> dict:
    """Run one watchlist search through discover; remember its finds; return them with the new ones."""
    from contextlib import closing

    from comments import store
    from comments.discover import discover

    found = discover(_client(client, pacer), search.term, agency=search.agency, open_only=search.open,
                     limit=search.limit)
    with closing(store.connect(db)) as con:
        new = record_discoveries(con, search, found.items)
    return {"search": search, "found": found.items, "new": new, "requests": found.requests}


# --------------------------------------------------------------------------- results

class TrackingFailed(RuntimeError):
    """Some watchlist dockets failed (the others were tracked); the message lists them."""


@dataclass
class DocketRun:
    docket_id: str
    steps: dict = field(default_factory=dict)   # step name -> its result
    error: str | None = None                    # the step that failed and why

    @property
    def changes(self) -> dict | None:
        return self.steps.get("changes")


@dataclass
class WatchlistRun:
    dockets: list[DocketRun] = field(default_factory=list)
    searches: list[dict] = field(default_factory=list)
    search_errors: list[str] = field(default_factory=list)
    searches_path: Path | None = None

    @property
    def failed(self) -> list[DocketRun]:
        return [d for d in self.dockets if d.error]

    def summary(self) -> str:
        ok = len(self.dockets) - len(self.failed)
        parts = [f"tracked {ok}/{len(self.dockets)} dockets"]
        for d in self.dockets:
            c = d.changes
            if d.error:
                parts.append(f"{d.docket_id}: FAILED ({d.error})")
            elif c:
                parts.append(
                    f"{d.docket_id}: {c['new_comments']} new comments, {len(c['new_campaigns'])} new campaigns, "
                    f"{len(c['grown_campaigns'])} grown, {len(c['new_themes'])} new themes"
                )
        if self.searches:
            parts.append(f"{sum(len(s['new']) for s in self.searches)} new finds in {len(self.searches)} searches")
        return "; ".join(parts)




# --------------------------------------------------------------------------- plan and fan-out


@dataclass(frozen=True)
class DocketPlan:
    """What a watchlist run does for one docket: its stages in order, where the data and outputs go.

    `db` None means "the database of whoever runs the stage" ($COMMENTS_DB on
    that worker); paths are absolute when given, so any worker that shares the
    file system reads the same files.
    """

    docket_id: str
    out_dir: str
    db: str | None = None
    fmt: str = "html"
    stages: tuple[str, ...] = STAGES
    max_comments: int | None = None

    @property
    def briefing(self) -> str:
        return str(briefing_path(self.out_dir, self.docket_id, self.fmt))


def watchlist_dockets(wl: Watchlist, searches: Sequence[dict] = ()) -> list[str]:
    """The watchlist's dockets, then those its searches found and marked `sync = true`, each once."""
    extra = [
        f["docket_id"] for s in searches if s["search"].sync for f in s["found"]
        if f.get("docket_id") and DOCKET_ID.match(f["docket_id"])
    ]
    return list(dict.fromkeys([*wl.dockets, *extra]))


def plan_dockets(
    wl: Watchlist,
    *,
    db: str | Path | None = None,
    searches: Sequence[dict] = (),
    skip: Sequence[str] = (),
    max_comments: int | None = None,
) -> list[DocketPlan]:
    """One plan per docket to track (see `watchlist_dockets`); `skip` drops stages by name."""
    unknown = set(skip) - set(STAGES)
    if unknown:
        raise InputError(f"unknown stage(s) to skip: {', '.join(sorted(unknown))} (stages: {', '.join(STAGES)})")
    stages = tuple(s for s in STAGES if s not in skip)
    db_value = str(Path(db).resolve()) if db else (str(wl.db.resolve()) if wl.db else None)
    out_dir = str(Path(wl.out_dir).resolve())
    return [
        DocketPlan(docket_id, out_dir, db_value, wl.brief_format, stages, max_comments)
        for docket_id in watchlist_dockets(wl, searches)
    ]


RunStage = Callable[[DocketPlan, str, dict], dict]


def fan_out(plans: Sequence[DocketPlan], run_stage: RunStage, *, parallel: int = 1) -> list[DocketRun]:
    """Run every plan's stages in order, `parallel` dockets at a time; results in plan order.

    `run_stage(plan, stage, results_so_far)` returns the stage's result (a
    dict); one that returns {"error": ...} ends its docket there (recorded in
    `DocketRun.error`) and the other dockets go on. The stages of one docket
    never overlap. With `parallel` 1 everything runs in the calling thread;
    otherwise each docket runs on a thread that sees the caller's context
    variables (e.g. the Prefect flow run it belongs to).
    """

    def one(plan: DocketPlan) -> DocketRun:
        run = DocketRun(plan.docket_id)
        for stage in plan.stages:
            outcome = run_stage(plan, stage, run.steps)
            if isinstance(outcome, dict) and "error" in outcome:
                run.error = f"{stage}: {outcome['error']}"
                break
            run.steps[stage] = outcome
        return run

    if parallel <= 1 or len(plans) <= 1:
        return [one(plan) for plan in plans]
    with ThreadPoolExecutor(min(parallel, len(plans)), thread_name_prefix="watchlist-docket") as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, plan) for plan in plans]
        return [f.result() for f in futures]


# --------------------------------------------------------------------------- running a watchlist here

# The stage runner's task name for each step (the Prefect flow shows these).
STEP_NAMES = {"sync": "sync", "attachments": "attachments", "analyze": "analyze", "changes": "what changed",
              "brief": "brief"}
DocketLock = Callable[[str], AbstractContextManager]


def _call(name: str, fn, /, *args, **kwargs):
    return fn(*args, **kwargs)


def attempt(step, *args, hold: Callable[[], AbstractContextManager] | None = None, **kwargs):
    """Run a step (holding `hold()` meanwhile); a problem the user can fix becomes {"error": one line}.

    Such a problem (unknown docket, bad key, ...) is reported in the run's
    summary and the other dockets go on; anything else is a bug and raises as usual.
    """
    from comments.client import ApiError
    from comments.errors import UserError

    try:
        with hold() if hold is not None else nullcontext():
            return step(*args, **kwargs)
    except (UserError, ApiError) as exc:
        return {"error": " ".join(str(exc).split()) or type(exc).__name__}


@dataclass
class Here:
    """How `run_watchlist` runs a docket's stages in this process.

    `stage(name, fn, *args, **kwargs)` runs each step (default: a plain call;
    the `track` flow makes each a task run). `lock(docket_id)` is held around
    each writing stage (the `track` flow: the docket's shared one-writer
    limit); `pacer`/`download_pacer` pace API requests and downloads with
    limits shared by other processes (the client stays free of them).
    """

    db: str
    client: object = None
    stage: Callable = _call
    lock: DocketLock | None = None
    pacer: Callable[[str], None] | None = None
    download_pacer: Callable[[], None] | None = None

    def __call__(self, plan: DocketPlan, name: str, steps: dict) -> dict:
        d = plan.docket_id
        calls = {
            "sync": (sync_step, (self.db, d), {"client": self.client, "pacer": self.pacer,
                                              "max_comments": plan.max_comments}),
            "attachments": (attachments_step, (self.db, d), {"download_pacer": self.download_pacer}),
            "analyze": (analyze_step, (self.db, d), {}),
            "changes": (changes_step, (self.db, d, plan.out_dir), {}),
            # the briefing opens with what changed, so it gets this run's changes
            "brief": (brief_step, (self.db, d, plan.out_dir, plan.fmt), {"changes": steps.get("changes")}),
        }
        fn, args, kwargs = calls[name]
        if self.lock is not None and name in WRITING_STAGES:
            kwargs["hold"] = _Hold(self.lock, d)
        return self.stage(STEP_NAMES[name], attempt, fn, *args, **kwargs)

    def searches(self, wl: Watchlist) -> WatchlistRun:
        """The watchlist's searches (their finds remembered in the database); the report beside the briefings."""
        result = WatchlistRun()
        for search in wl.searches:
            found = self.stage("watchlist search", attempt, search_step, self.db, search, client=self.client,
                               pacer=self.pacer)
            if "error" in found:
                result.search_errors.append(f"“{search.term}”: {found['error']}")
            else:
                result.searches.append(found)
        if result.searches or result.search_errors:
            result.searches_path = write_searches_markdown(wl.out_dir, result)
        return result


@dataclass(frozen=True)
class _Hold:
    """`lock(docket_id)` as a no-argument callable (a plain value a task can take as a parameter)."""

    lock: DocketLock
    docket_id: str

    def __call__(self) -> AbstractContextManager:
        return self.lock(self.docket_id)


def run_watchlist(
    wl: Watchlist, *, db: str | Path | None = None, client=None, skip: tuple[str, ...] = (),
    max_comments: int | None = None, stage=_call, lock: DocketLock | None = None, pacer=None, download_pacer=None,
) -> WatchlistRun:
    """Run the watchlist's searches (syncing finds marked `sync = true`), then track every docket here.

    The one definition of a tracking run in one process: `comments track` runs
    it directly or as the Prefect flow `track` (flows/track.py), whose `stage`
    makes each step a task; the `plan-watchlist` flow plans the same dockets
    and fans them out to deployment runs instead.
    """
    from comments import settings

    db_path = str(Path(db) if db else (wl.db or settings.db_path()))
    here = Here(db_path, client, stage, lock, pacer, download_pacer)
    result = here.searches(wl)
    plans = plan_dockets(wl, db=db_path, searches=result.searches, skip=skip, max_comments=max_comments)
    result.dockets = fan_out(plans, here)
    return result


def run_summary(result: WatchlistRun) -> dict:
    """What a tracking run returns (the flow's result): plain values; the Markdown and full diffs stay in files."""
    return {
        "summary": result.summary(),
        "dockets": [{"docket_id": d.docket_id, "error": d.error, "changes": _strip(d.changes)} for d in result.dockets],
        "searches": [{"term": s["search"].term, "found": len(s["found"]), "new": len(s["new"])} for s in result.searches],
        "searches_path": str(result.searches_path) if result.searches_path else None,
    }


def _strip(changes: dict | None) -> dict | None:
    return None if changes is None else {k: v for k, v in changes.items() if k not in ("markdown", "diff")}
