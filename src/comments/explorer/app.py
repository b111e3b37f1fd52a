"""The explorer's web app: server-rendered pages over the snapshot, one JSON endpoint for labels.

Security, all in one place (the middleware below):
- Bound to 127.0.0.1 unless `--host` is given; then every request must carry
  the access token printed at start (a `?token=` link sets an HttpOnly,
  SameSite=Strict cookie and is redirected away, so the token does not stay
  in the address bar). Without a token, requests must name a loopback Host
  (a page elsewhere cannot reach the explorer by rebinding its own name).
- Read-only except labels; a label POST needs the page's CSRF token in a
  header and a JSON body (a cross-site form can send neither).
- Comment text is escaped everywhere (Jinja autoescape, always on); control
  and bidirectional-override characters are replaced before escaping;
  highlights are built as (text, kind) segments and wrapped by the template.
  Pages carry a Content-Security-Policy that allows only the explorer's own
  script and style files: no inline script, no other origin, no plugin.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from comments import labels as labels_mod
from comments.errors import InputError
from comments.explorer import charts, pages
from comments.explorer.snapshot import SnapshotManager
from comments.theme_audit import theme_audit_words

log = logging.getLogger("comments.explorer")

HERE = Path(__file__).resolve().parent
TOKEN_COOKIE = "comments_explorer_token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# C0/C1 controls (not tab or newline) and bidirectional overrides: shown as U+FFFD
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value):
    """Every value a template prints passes here first (Jinja `finalize`), then autoescape."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _UNSAFE_CHARS.sub("\ufffd", value)


def _num(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _ago(seconds) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every template, whatever its name
        finalize=clean,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, when=_when, ago=_ago)
    env.globals.update(quote=lambda s: quote(str(s), safe=""), url=_url, list_url=_list_url,
                       theme_audit_words=theme_audit_words)
    return env


def create_app(
    manager: SnapshotManager,
    *,
    token: str | None = None,
    loopback_port: int | None = None,
    show_names: bool = False,
) -> FastAPI:
    """The explorer over `manager`'s snapshot. With `token`, every request must carry it."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    env = make_env()
    csrf = secrets.token_urlsafe(32)
    index_root = manager.index_root

    def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
        context.setdefault("title", "Comments explorer")
        context.setdefault("docket_id", None)
        status = manager.status()
        body = env.get_template(template).render(
            status=status, csrf=csrf, show_names=show_names, request_path=request.url.path, now=datetime.now(UTC).replace(tzinfo=None), **context)
        return HTMLResponse(body, status_code=status_code)

    def waiting(request: Request) -> HTMLResponse:
        return page(request, "waiting.html.j2", title="Waiting for the database", refresh=3)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token is not None and not request.url.path.startswith("/static/"):
            given = request.query_params.get("token")
            if given is not None and secrets.compare_digest(given, token):
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = request.url.path + ("?" + urlencode(rest) if rest else "")
                response: Response = RedirectResponse(target, status_code=303)
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
                return _harden(response)
            cookie = request.cookies.get(TOKEN_COOKIE) or request.headers.get("x-explorer-token") or ""
            if not secrets.compare_digest(cookie, token):
                return _harden(HTMLResponse(
                    env.get_template("token.html.j2").render(status=None, title="Access token needed", docket_id=None),
                    status_code=401))
        elif loopback_port is not None:
            host = (request.headers.get("host") or "").lower()
            if host not in {f"127.0.0.1:{loopback_port}", f"localhost:{loopback_port}", "127.0.0.1", "localhost"}:
                return _harden(Response("unexpected Host header: open the explorer at 127.0.0.1\n",
                                        status_code=421, media_type="text/plain"))
        try:
            response = await call_next(request)
        except Exception:  # a bug: logged with its traceback, the reader gets a plain page
            log.exception("explorer: %s failed", request.url.path)
            response = HTMLResponse(
                "<!doctype html><title>Explorer error</title><p>This page could not be built; the server log "
                "says why. Other pages still work: <a href='/'>dockets</a>.</p>", status_code=500)
        return _harden(response)

    def warm(snap) -> None:
        """Compute each docket's page once, as soon as a new snapshot is in (background thread)."""
        snap.memo("dockets", pages.dockets)
        for docket_id in snap.dockets:
            docket_data(snap, docket_id)
            snap.memo(("options", docket_id), lambda c, d=docket_id: pages.filter_options(c, d))

    manager.on_new_snapshot = warm

    def docket_data(snap, docket_id: str) -> tuple[dict, str]:
        def compute(cur):
            data = pages.docket_page(cur, docket_id, show_names=show_names)
            chart = charts.stance_over_time(data.get("timeline") or [], docket_id) if data["analyzed"] else ""
            return data, chart
        return snap.memo(("docket", docket_id), compute)

    def _docket_or_404(request, cur, docket_id):
        if not pages.docket_known(cur, docket_id):
            return page(request, "message.html.j2", status_code=404, title="Unknown docket",
                        message=f"There is no docket {docket_id} in this database.")
        return None

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse)
    def dockets(request: Request):
        with manager.use() as snap:
            if snap is None:
                return waiting(request)
            cur = snap.cursor()
            try:
                return page(request, "dockets.html.j2", title="Dockets", dockets=snap.memo("dockets", pages.dockets))
            finally:
                cur.close()

    @app.get("/d/{docket_id}", response_class=HTMLResponse)
    def docket(request: Request, docket_id: str):
        with manager.use() as snap:
            if snap is None:
                return waiting(request)
            cur = snap.cursor()
            try:
                if (missing := _docket_or_404(request, cur, docket_id)) is not None:
                    return missing
                data, chart = docket_data(snap, docket_id)
                show_all = request.query_params.get("all") or ""
                return page(request, "docket.html.j2", title=docket_id, docket_id=docket_id, d=data,
                            labels=pages.label_status(cur, docket_id), chart=Markup(chart), show_all=show_all)
            finally:
                cur.close()

    @app.get("/d/{docket_id}/comments", response_class=HTMLResponse)
    def comments(request: Request, docket_id: str):
        state = pages.ListState.from_params(request.query_params)
        with manager.use() as snap:
            if snap is None:
                return waiting(request)
            cur = snap.cursor()
            try:
                if (missing := _docket_or_404(request, cur, docket_id)) is not None:
                    return missing
                error = None
                try:
                    data = pages.comment_list(cur, docket_id, state, index_root=index_root, show_names=show_names)
                except InputError as exc:  # a query with no words, for instance
                    error, data = str(exc), None
                return page(request, "comments.html.j2", title=f"{docket_id}: comments", docket_id=docket_id,
                            state=state, data=data, error=error,
                            options=snap.memo(("options", docket_id), lambda c: pages.filter_options(c, docket_id)),
                            sorts=pages.SEARCH_SORTS if state.q else {k: v[0] for k, v in pages.SORTS.items()},
                            per_page=pages.PER_PAGE, refresh=3 if data and data["search"] and data["search"]["index_missing"] else None)
            finally:
                cur.close()

    @app.get("/d/{docket_id}/c/{comment_id}", response_class=HTMLResponse)
    def comment(request: Request, docket_id: str, comment_id: str):
        q = (request.query_params.get("q") or "")[:500]
        with manager.use() as snap:
            if snap is None:
                return waiting(request)
            cur = snap.cursor()
            try:
                data = pages.comment_page(cur, docket_id, comment_id, q=q, show_names=show_names)
                if data is None:
                    return page(request, "message.html.j2", status_code=404, title="Unknown comment", docket_id=docket_id,
                                message=f"There is no comment {comment_id} in docket {docket_id}.")
                return page(request, "comment.html.j2", title=comment_id, docket_id=docket_id, c=data, q=q,
                            theme_names=pages.theme_labels(cur, docket_id))
            finally:
                cur.close()

    @app.get("/d/{docket_id}/campaigns/{campaign_id}", response_class=HTMLResponse)
    def campaign(request: Request, docket_id: str, campaign_id: str):
        after = request.query_params.get("after") or None
        with manager.use() as snap:
            if snap is None:
                return waiting(request)
            cur = snap.cursor()
            try:
                campaigns = docket_data(snap, docket_id)[0].get("campaigns") if pages.docket_known(cur, docket_id) else []
                data = pages.campaign_page(cur, docket_id, campaign_id, after=after, show_names=show_names,
                                           campaigns=campaigns,
                                           also_after=request.query_params.get("also_after") or None)
                if data is None:
                    return page(request, "message.html.j2", status_code=404, title="Unknown campaign", docket_id=docket_id,
                                message=f"There is no campaign {campaign_id} in docket {docket_id}.")
                chart = charts.daily_bars(data["timeline"], label="copies")
                return page(request, "campaign.html.j2", title=f"{docket_id}: campaign {campaign_id}",
                            docket_id=docket_id, k=data, chart=Markup(chart), after=after)
            finally:
                cur.close()

    @app.get("/d/{docket_id}/label", response_class=HTMLResponse)
    def label_mode(request: Request, docket_id: str):
        state = pages.ListState.from_params(request.query_params)
        with manager.use() as snap:
            if snap is None:
                return waiting(request)
            cur = snap.cursor()
            try:
                if (missing := _docket_or_404(request, cur, docket_id)) is not None:
                    return missing
                batch = pages.label_batch(cur, docket_id, state, show_names=show_names)
                return page(request, "label.html.j2", title=f"{docket_id}: label mode", docket_id=docket_id,
                            state=state, batch=batch, labels=pages.label_status(cur, docket_id),
                            stance_keys=_stance_keys(), theme_names=pages.theme_labels(cur, docket_id))
            finally:
                cur.close()

    @app.post("/d/{docket_id}/labels")
    async def save_label(request: Request, docket_id: str):
        if not secrets.compare_digest(request.headers.get("x-csrf-token") or "", csrf):
            return JSONResponse({"status": "refused", "message": "missing or wrong CSRF token: reload the page"}, 403)
        if (request.headers.get("content-type") or "").split(";")[0].strip() != "application/json":
            return JSONResponse({"status": "refused", "message": "send the label as JSON"}, 415)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"status": "refused", "message": "the body is not JSON"}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"status": "refused", "message": "send an object"}, 400)
        comment_id, stance, theme_id = body.get("comment_id"), body.get("stance"), body.get("theme_id") or None
        if not isinstance(comment_id, str) or not isinstance(stance, str) or not (theme_id is None or isinstance(theme_id, str)):
            return JSONResponse({"status": "refused", "message": "comment_id and stance are strings"}, 400)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_save_label, docket_id, comment_id, stance, theme_id)

    def _save_label(docket_id, comment_id, stance, theme_id):
        with manager.use() as snap:
            if snap is None:
                return JSONResponse({"status": "refused", "message": "no snapshot of the database yet"}, 503)
            cur = snap.cursor()
            try:
                known = cur.execute("select 1 from comments where comment_id = ? and docket_id = ?",
                                    [comment_id, docket_id]).fetchall()
                if not known:
                    return JSONResponse({"status": "refused", "message": f"no comment {comment_id} in {docket_id}"}, 404)
                if theme_id is not None and not cur.execute(
                        "select 1 from themes where docket_id = ? and theme_id = ?", [docket_id, theme_id]).fetchall():
                    return JSONResponse({"status": "refused", "message": f"no theme {theme_id} in {docket_id}"}, 400)
            finally:
                cur.close()
        try:
            result = manager.save_label(docket_id, labels_mod.Label(comment_id, stance, theme_id))
        except InputError as exc:
            return JSONResponse({"status": "refused", "message": str(exc)}, 400)
        with manager.use() as snap:
            cur = snap.cursor()
            try:
                count = labels_mod.label_count(cur, docket_id)
            finally:
                cur.close()
        return JSONResponse({"status": result.status, "message": result.message, "label_count": count})

    return app


def _stance_keys() -> list[tuple[str, str]]:
    """One key per stance the labels accept: its first letter, or a digit-free fallback."""
    keys, used = [], set()
    for stance in labels_mod.STANCES:
        key = next((ch for ch in stance.lower() if ch.isalpha() and ch not in used and ch not in "jkx"), None)
        if key is None:
            continue
        used.add(key)
        keys.append((key, stance))
    return keys


def _harden(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _url(path: str, params: dict | None = None) -> str:
    return path + ("?" + urlencode(params) if params else "")


def _list_url(docket_id: str, params: dict | None = None, *, view: str = "comments") -> str:
    return _url(f"/d/{quote(docket_id, safe='')}/{view}", params)
