"""`comments sync`, `comments status`, `comments demo`: regulations.gov into DuckDB.

Everything a user can get wrong is checked before the stages start and
before any request that is not needed: the docket id's shape, the key's
presence, the database lock; then one docket request per docket proves the
key works and the docket exists. Only then do the stages run (as a Prefect
flow when runs are recorded there: `comments.commands.runner`).
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from comments import settings, terminal
from comments.errors import ConfigError, InputError, UserError

# Agency, optional sub-parts, a year, then a number: CMS-2022-0163, EOIR-2020-0003,
# FDA-2013-N-0500, NOAA-NMFS-2021-0111, ED-2023-OPE-0123, FWS-R8-ES-2008-0058.
# ASCII only: in a str pattern \d also matches other scripts' digits ('ICEB-2015-٠٠٠٢').
DOCKET_ID = re.compile(r"^[A-Z][A-Z0-9]{1,15}(?:-[A-Z0-9]{1,12}){0,3}-(?:19|20)\d{2}(?:-[A-Z0-9]{1,12}){0,3}-\d{1,6}$", re.ASCII)
DEMO_KEY = "demo-key"  # the local replay server's own key: not a regulations.gov key


def docket_id_checked(raw: str) -> str:
    value = raw.strip().upper()
    if not DOCKET_ID.fullmatch(value):
        raise InputError(
            f"{raw[:80]!r} is not a regulations.gov docket id (expected e.g. CMS-2022-0163 or FDA-2013-N-0500)"
        )
    return value


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.command("status")(status_command)
    app.command("demo")(demo_command)


# --------------------------------------------------------------------------- sync


def sync_command(
    docket_ids: Annotated[list[str], typer.Argument(metavar="DOCKET_ID...", help="One or more docket ids, e.g. CMS-2022-0163.")],
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or ./data/comments.duckdb).")] = None,
    max_comments: Annotated[int | None, typer.Option("--max-comments", min=1, help="Stop after this many comment details (a quick look at a big docket).")] = None,
    no_attachments: Annotated[bool, typer.Option("--no-attachments", help="Skip downloading and extracting attachments.")] = False,
) -> None:
    """Pull every posted comment of the dockets into the database; a second run fetches only what changed.

    Needs REGULATIONS_GOV_API_KEY (one key, or several comma-separated). Interrupted runs resume
    where they stopped: run the same command again.
    """
    ids = [docket_id_checked(d) for d in docket_ids]
    settings.api_keys()  # a missing key is a one-line error before anything else
    path = settings.db_path(db)
    results = run_sync(ids, path, max_comments=max_comments, no_attachments=no_attachments)
    if any(r["status"] == "failed" for r in results):
        raise typer.Exit(1)


def run_sync(
    docket_ids: list[str],
    db_path: Path,
    *,
    max_comments: int | None = None,
    no_attachments: bool = False,
    base_url: str | None = None,
) -> list[dict]:
    """Check everything cheap first, then sync each docket (its stages, or the Prefect flow), with progress bars."""
    from comments import store
    from comments.client import ApiError, AuthError, RateLimited, RegulationsClient
    from comments.commands import runner

    store.connect(db_path).close()  # DatabaseLockedError now, not after the stages have started
    # With a Prefect server the preflight requests take slots of the keys' shared limits like the
    # flow's (a missing limit is said before anything else); off, the client paces itself only.
    from flows import limits

    client = RegulationsClient(base_url=base_url, on_wait=_tell_wait, pacer=limits.key_pacer())
    for docket_id in docket_ids:
        preflight_docket(client, docket_id)

    from comments import runs
    from comments.progress import bars

    flow_module = runner.flow_module("sync_docket") if runner.use_prefect() else None
    results = []
    told: set[str] = set()  # dockets whose comment summary was printed when their comments were done

    def tell_synced(summary: dict) -> None:
        terminal.echo(_summary_line(summary))
        told.add(summary["docket_id"])

    for docket_id in docket_ids:
        with bars() as new_bar:
            advance = new_bar(f"sync {docket_id}", "comments")
            try:
                if flow_module is None:
                    summaries = [runs.sync_docket(
                        db_path, client, docket_id, max_comments=max_comments, no_attachments=no_attachments,
                        progress=advance,
                        attachments=lambda d, db: runs.fetch_attachments(d, db, progress=new_bar(f"{d} attachments", "files")),
                        on_synced=tell_synced,
                    )]
                else:
                    with runner.with_hooks(flow_module, progress=advance, on_wait=_tell_wait, new_bar=new_bar):
                        summaries = flow_module.sync_docket(
                            [docket_id], db=str(db_path), max_comments=max_comments,
                            no_attachments=no_attachments, base_url=base_url,
                        )
            except RateLimited as exc:
                raise UserError(
                    f"sync of {docket_id} stopped: the API kept refusing requests for the rate limit ({exc.message}); "
                    "what was stored is kept: run the same command later to resume"
                ) from None
            except AuthError as exc:
                raise ConfigError(f"the API key was refused during the sync of {docket_id} ({exc.message}); {settings.KEY_HELP}") from None
            except ApiError as exc:
                raise UserError(
                    f"sync of {docket_id} stopped: {exc}; what was stored is kept: run the same command again to resume"
                ) from None
        for summary in summaries:
            if summary["docket_id"] not in told:
                terminal.echo(_summary_line(summary))
            if summary.get("attachments") is not None:
                from comments.attachments.pipeline import summary_line

                terminal.echo(summary_line(summary["docket_id"], summary["attachments"], summary.get("attachments_seconds", 0.0)))
            results.append(summary)
    return results


def preflight_docket(client, docket_id: str) -> None:
    """One request: the key works and the docket exists (as one-line errors otherwise)."""
    from comments.client import ApiError, AuthError, NotFound, TransportError

    try:
        client.docket(docket_id)
    except NotFound:
        raise InputError(f"docket {docket_id} does not exist on regulations.gov ({client.base_url})") from None
    except AuthError as exc:
        raise ConfigError(
            f"the API key in REGULATIONS_GOV_API_KEY was refused ({exc.message or exc.status}); {settings.KEY_HELP}"
        ) from None
    except TransportError as exc:
        raise UserError(f"cannot reach {client.base_url}: {exc.message}") from None
    except ApiError as exc:
        raise UserError(f"regulations.gov would not give docket {docket_id}: {exc}") from None


def _summary_line(summary: dict) -> str:
    from comments.sync import SyncResult

    fields = {k: v for k, v in summary.items() if k in SyncResult.__dataclass_fields__}
    return SyncResult(**fields).summary()


def _tell_wait(seconds: float, reason: str) -> None:
    minutes = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    terminal.echo(f"{reason} {minutes}", err=True)


# --------------------------------------------------------------------------- status


def status_command(
    docket_id: Annotated[str | None, typer.Argument(help="Only this docket.")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: $COMMENTS_DB or ./data/comments.duckdb).")] = None,
) -> None:
    """What the database holds: comments per docket, the last sync, open errors, the request budget left."""
    from comments import store

    only = docket_id_checked(docket_id) if docket_id else None
    # a reader: it waits at most for the transaction in progress, never for a whole sync
    with store.reading(settings.db_path(db)) as con:
        lines = status_lines(con, only)
    for line in lines:
        terminal.echo(line)


def status_lines(con, only: str | None = None) -> list[str]:
    from comments import store
    from comments.analysis.run_status import analysis_status_lines
    from comments.attachments.status import attachment_status_lines, document_text_status_line

    where, params = ("where d.docket_id = ?", [only]) if only else ("", [])
    dockets = con.execute(
        f"""select d.docket_id, max(k.title), count(c.comment_id)
            from (select docket_id from dockets union select docket_id from comments
                  union select docket_id from sync_state) d
            left join dockets k using (docket_id)
            left join comments c using (docket_id)
            {where} group by d.docket_id order by d.docket_id""",
        params,
    ).fetchall()
    if not dockets:
        if only:
            raise InputError(f"docket {only} is not in this database: run `comments sync {only}` first")
        return ["no dockets yet: run `comments sync DOCKET_ID` (or `comments demo`)"]
    lines = []
    for docket_id, title, stored in dockets:
        lines.append(f"{docket_id}  {title or ''}".rstrip())
        api_total = store.scalar(con, "select api_total from sync_state where docket_id = ?", [docket_id])
        of_total = f" of {api_total:,} counted by regulations.gov" if api_total is not None else ""
        lines.append(f"  comments      {stored:,}{of_total}")
        lines.extend("  " + line for line in id_lines(con, docket_id))
        run = con.execute(
            """select started_at, finished_at, status, new_comments, updated, failed, requests, rate_remaining, message,
                      host, pid, pid_started, heartbeat_at
               from sync_runs where docket_id = ? order by started_at desc limit 1""",
            [docket_id],
        ).fetchone()
        if run:
            started, finished, status, new, updated, failed, requests, remaining, message = run[:9]
            if status == "running":
                from comments.sync_status import DEAD_RUN, run_is_live

                host, pid, pid_started, heartbeat = run[9:]
                if run_is_live(host, pid, pid_started, heartbeat):
                    saved = f", last saved a page at {heartbeat:%H:%M:%S} UTC" if heartbeat else ""
                    message = f"process {pid} on {terminal.clean(host)}{saved}"
                else:  # its process is gone: the next sync resumes where it stopped
                    status, message = "failed", DEAD_RUN
            if status == "complete":
                from comments.sync_status import id_status

                failing = id_status(con, docket_id).failing
                status = f"complete except {failing:,} failing" if failing else status
            when = f"{finished or started:%Y-%m-%d %H:%M} UTC"
            text = f"  last sync     {when}: {status}; {new or 0:,} new, {updated or 0:,} updated, {failed or 0:,} failed, {requests or 0:,} requests"
            if message:
                text += f" ({message})"
            lines.append(text)
            if remaining is not None:
                lines.append(f"  budget        {remaining:,} requests were left this hour at the end of that sync")
            else:
                lines.append("  budget        unknown (the API sent no X-RateLimit-Remaining)")
        else:
            lines.append("  last sync     never (imported from another source)")
        open_errors = con.execute(
            """select count(*), any_value(reason) from sync_errors
               where docket_id = ? and resolved_at is null""",
            [docket_id],
        ).fetchone()
        if open_errors[0]:
            plural = "s" if open_errors[0] != 1 else ""
            lines.append(f"  errors        {open_errors[0]:,} item{plural} failing, retried by the next sync (e.g. {open_errors[1]})")
        else:
            lines.append("  errors        none")
        lines.extend("  " + line for line in attachment_status_lines(con, docket_id))
        notice = document_text_status_line(con, docket_id)
        if notice:
            lines.append("  " + notice)
        lines.extend("  " + line for line in analysis_status_lines(con, docket_id))
    return lines


def id_lines(con, docket_id: str, show: int = 5) -> list[str]:
    """Completeness by identity: listed, stored, failing (with reasons) and no-longer-listed ids."""
    from comments.sync_status import id_status

    ids = id_status(con, docket_id)
    if not ids.ever_listed:
        return ["ids           never listed from the API (imported only): `comments sync` lists them"]
    stored_listed = ids.listed - ids.failing - ids.missing
    lines = [f"ids           {ids.listed:,} listed: {stored_listed:,} stored, {ids.failing:,} failing, {ids.missing:,} not fetched yet"]
    if ids.failing:
        rows = con.execute(
            """select e.item_id, e.reason from sync_errors e join listed_comments l on l.comment_id = e.item_id
               where l.docket_id = ? and l.removed_at is null and e.item_type = 'comment' and e.resolved_at is null
                 and e.item_id not in (select comment_id from comments)
               order by e.item_id limit ?""",
            [docket_id, show],
        ).fetchall()
        lines.extend(f"  failing     {cid}: {' '.join(terminal.clean(reason).split())}" for cid, reason in rows)
        if ids.failing > len(rows):
            lines.append(f"  failing     ... and {ids.failing - len(rows):,} more (table sync_errors)")
    if ids.removed:
        rows = con.execute(
            """select c.comment_id from comments c left join listed_comments l using (comment_id)
               where c.docket_id = ? and (l.removed_at is not null or l.comment_id is null)
               order by c.comment_id limit ?""",
            [docket_id, show],
        ).fetchall()
        more = f" ... and {ids.removed - len(rows):,} more" if ids.removed > len(rows) else ""
        lines.append(f"removed       {ids.removed:,} stored but no longer listed: {', '.join(r[0] for r in rows)}{more}")
    return lines


# --------------------------------------------------------------------------- demo


def demo_command(
    db: Annotated[Path | None, typer.Option("--db", help="Where to write (default: a new file under ./data/demo/).")] = None,
) -> None:
    """The whole pipeline on a real bundled docket (CMS-2022-0163, 647 comments): no key, no network.

    Serves the bundled snapshot from a local regulations.gov stand-in on 127.0.0.1,
    then runs the real pipeline: sync, analyze, brief (as Prefect flows when a Prefect API is
    configured or COMMENTS_PREFECT=on). Prints where the briefing is.
    """
    from comments import store
    from comments.commands.analysis import run_analyze
    from comments.commands.outputs import run_brief
    from comments.label_files import import_csv
    from comments.replay import ReplayServer, Snapshot
    from comments.resources import (
        DEMO_DOCKET,
        bundled_check_labels,
        bundled_labels,
        bundled_mirrulations,
        bundled_theme_audit,
    )

    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    path = db or Path("data") / "demo" / f"demo-{stamp}.duckdb"
    if path.exists():
        raise InputError(f"{path} already exists: the demo writes a fresh database; pick another --db")
    snapshot = Snapshot.from_mirrulations(bundled_mirrulations())
    terminal.echo(f"demo: serving {DEMO_DOCKET} from the bundled snapshot on 127.0.0.1 (a local regulations.gov stand-in)")
    terminal.echo(f"demo: database {path.resolve()}")
    # the real API's default budget (1,000 requests per hour per key), with its headers
    with ReplayServer(snapshot, api_keys=(DEMO_KEY,), rate_limit_per_hour=1000) as server, _env(
        REGULATIONS_GOV_API_KEY=DEMO_KEY, REGULATIONS_GOV_BASE_URL=server.base_url, REGULATIONS_GOV_RATE_LIMIT="100000",
    ):
        # The snapshot carries attachment metadata but not the files (they live on
        # downloads.regulations.gov, out of reach offline): the demo skips that stage,
        # but fetches the notice's own text, which the snapshot does carry (it seeds the codebook).
        run_sync([DEMO_DOCKET], path, base_url=server.base_url, no_attachments=True)
        _demo_notice_text(path, server)
    # The demo plays the analyst too: 60 texts of this docket sampled with `comments label sample`
    # and labeled by hand ship with the package, so the analysis trains and measures a model for it.
    # And a second, random sample labeled blind that is never trained on: what the model scores there
    # is the docket-wide estimate (the 60 are the least certain texts, a pessimistic place to measure).
    labels_file = bundled_labels(DEMO_DOCKET)
    check_file = bundled_check_labels(DEMO_DOCKET)
    with closing(store.connect(path)) as con:
        imported = import_csv(con, labels_file)
        checked = import_csv(con, check_file)
    terminal.echo(f"labels: {imported.saved} analyst labels of {DEMO_DOCKET} imported from the bundled {labels_file.name} "
          "(`comments label sample` + `comments label import`)")
    terminal.echo(f"labels: {checked.checks} check labels (texts drawn at random, labeled blind, never trained on) "
          f"imported from the bundled {check_file.name} (`comments label sample --check`)")
    analysis = run_analyze(DEMO_DOCKET, path)
    terminal.echo(analysis["summary"])
    for note in analysis["notes"]:
        if note.startswith("stance:"):
            terminal.echo(note)
    # ... and has audited the themes this analysis finds: a sample of each theme's texts marked by
    # reading whether they argue what the label says, so the briefing states the themes' precision.
    _demo_theme_audit(path, bundled_theme_audit(DEMO_DOCKET))
    html = path.with_name(f"{path.stem}-{DEMO_DOCKET}.html")
    result = run_brief(DEMO_DOCKET, html, path)
    run_brief(DEMO_DOCKET, html.with_suffix(".md"), path)
    con = store.connect(path, read_only=True)
    try:
        for line in demo_lines(con, DEMO_DOCKET, result["metrics"]):
            terminal.echo(line)
    finally:
        con.close()
    terminal.echo(f"briefing: {html.resolve()}  (also {html.with_suffix('.md').name}; open the .html in a browser)")
    cmd = _command_name()
    terminal.echo(f"next: {cmd} status {DEMO_DOCKET} --db {path}")
    terminal.echo(f'      {cmd} search {DEMO_DOCKET} "provider directory" --db {path}')
    terminal.echo(f"explore it in your browser: {cmd} serve --db {path}   (then open http://127.0.0.1:8000/)")


def _demo_theme_audit(path: Path, audit_file: Path) -> None:
    """Import the shipped theme audit after the analysis (it names the themes by id and label)."""
    from comments import store
    from comments.resources import DEMO_DOCKET
    from comments.theme_audit import import_audit

    with closing(store.connect(path)) as con:
        audited = import_audit(con, audit_file)
    terminal.echo(f"themes: {audited.saved} audited texts of {DEMO_DOCKET} imported from the bundled {audit_file.name} "
                  "(`comments themes audit` + `comments themes import`)")
    if audited.errors:  # the themes changed since the audit was made: say so, keep what still applies
        terminal.echo(f"themes: {len(audited.errors)} audit rows no longer match this analysis; first: {audited.errors[0]}")


def _demo_notice_text(path: Path, server) -> None:
    """The attachments stage's document step, against the local server (its files URL is on 127.0.0.1)."""
    from comments import store
    from comments.attachments import files_dir_for
    from comments.attachments.pipeline import document_text_status_line, fetch_document_texts
    from comments.client import RegulationsClient
    from comments.resources import DEMO_DOCKET

    con = store.connect(path)
    try:
        fetch_document_texts(con, DEMO_DOCKET, files_dir=files_dir_for(path), hosts=("127.0.0.1",), pace_s=0,
                             client=RegulationsClient(DEMO_KEY, base_url=server.base_url))
        line = document_text_status_line(con, DEMO_DOCKET)
    finally:
        con.close()
    if line:
        terminal.echo(f"demo: {line}")


def _command_name() -> str:
    """`comments` when it is on PATH, else the path it was started from (e.g. .venv/bin/comments)."""
    import shutil

    if shutil.which("comments") or not sys.argv or not sys.argv[0].endswith("comments"):
        return "comments"
    return os.path.relpath(sys.argv[0])


def demo_lines(con, docket_id: str, metrics: dict) -> list[str]:
    """What the demo stored and found, every figure from SQL (the briefing's own numbers)."""
    from comments.analysis.stance import ALL_STANCES
    from comments.briefing.data import stance_slug

    m = metrics
    files, on_comments = con.execute(
        """select count(*), count(distinct a.comment_id)
           from attachments a join comments c using (comment_id) where c.docket_id = ?""",
        [docket_id],
    ).fetchone()
    lines = [
        f"stored: {m['comments_posted']:,} comments; {m['submissions_represented']:,} submissions represented "
        f"(with the agency's duplicate counts); {m['unique_texts']:,} unique texts",
        f"campaigns: {m['campaigns']:,} form-letter campaigns hold {m['campaign_comments']:,} comments "
        f"({m['campaign_share_pct']}% of posted)",
        "stance by unique texts: " + ", ".join(
            f"{s} {m.get(f'stance_{stance_slug(s)}_unique_texts', 0):,}" for s in ALL_STANCES
        ) + "; by submissions: " + ", ".join(
            f"{s} {m.get(f'stance_{stance_slug(s)}_submissions', 0):,}" for s in ALL_STANCES
        ),
    ]
    if files:
        lines.append(
            f"attachments: {files:,} files listed on {on_comments:,} comments are not bundled with the demo "
            f"(no network here); {m.get('not_read', 0):,} comments carry their substance in them, so their stance "
            "is `not read` (on a live docket, `comments sync` downloads and reads the files)"
        )
    return lines


@contextmanager
def _env(**values):
    """Set environment variables for the demo run only."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
