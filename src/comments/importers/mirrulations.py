"""Import a local copy of the Mirrulations mirror into the same tables as the API sync.

Layout (as on the `mirrulations` AWS Open Data bucket):

    raw-data/<agency>/<docket>/text-<docket>/docket/<docket>.json
    raw-data/<agency>/<docket>/text-<docket>/documents/<document>.json
    raw-data/<agency>/<docket>/text-<docket>/comments/<comment>.json
    raw-data/<agency>/<docket>/binary-<docket>/...               (attachment files)
    derived-data/<agency>/<docket>/mirrulations/extracted_txt/... (attachment text)

The JSON files are the API's own detail responses, so they go through the same
save code as the live sync (`records.save_comments`, `save_docket`,
`save_documents`), in batches. Extracted text, when present, fills the matching
`attachments` row (status 'ok', extraction_method 'mirrulations'), so the
attachment stage need not fetch it again.

Merge rule: a comment stored with exactly the same detail JSON is left alone
(counted unchanged); one stored from the API with a lastModified at least as
recent as this copy's is left alone too (the mirror may be older); anything
else is written. A file that does not parse, or is not a comment record, goes
to `import_rejects` with its reason and the import goes on.

The folder is untrusted: nothing outside it is read. A symbolic link is followed
only when its target resolves inside the folder (copies made with links, or a
docket folder linked in from beside it inside the root, stay usable; a link to
/etc/passwd or to a file elsewhere is refused); only regular files are read
(not a FIFO or a device such as /dev/zero), each up to MAX_FILE_BYTES; a record
nested deeper than MAX_DEPTH, or one the save code cannot map, is refused. Each
refused file is one row in `import_rejects`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from comments import records
from comments.errors import InputError
from comments.importers import ImportReport
from comments.progress import ProgressFn, noop

SOURCE = "mirrulations"
BATCH = 1_000
# Far above any real record (the bundled docket's largest comment JSON is 8 KB) or
# extracted text (a 1,000-page PDF gives a few MB); a file over it is refused unread.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Real v4 records nest 6 levels; json would raise RecursionError near 1,000.
MAX_DEPTH = 64
# '<comment id>_attachment_<n>' with any suffix ('_extracted') before '.txt'.
_EXTRACTED_NAME = re.compile(r"^(?P<comment>.+?)_attachment_(?P<order>\d+)(?:_[A-Za-z0-9]+)*\.txt$")


@dataclass(frozen=True)
class DocketDir:
    agency: str
    docket_id: str
    text_dir: Path  # raw-data/<agency>/<docket>/text-<docket>
    derived_dir: Path  # derived-data/<agency>/<docket>/mirrulations/extracted_txt (may not exist)


def find_dockets(root: str | Path, docket_id: str | None = None) -> list[DocketDir]:
    """The dockets under a Mirrulations root, or an InputError if it is not one."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: no such directory")
    if not root.is_dir():
        raise InputError(f"{root} is not a directory (expected a Mirrulations folder holding raw-data/)")
    raw = root / "raw-data"
    base = root
    if not raw.is_dir() and root.name == "raw-data":
        raw, base = root, root.parent
    found = []
    if raw.is_dir():
        for text_dir in sorted(raw.glob("*/*/text-*")):
            docket = text_dir.parent.name
            if text_dir.is_dir() and text_dir.name == f"text-{docket}":
                derived = base / "derived-data" / text_dir.parent.parent.name / docket / "mirrulations" / "extracted_txt"
                found.append(DocketDir(text_dir.parent.parent.name, docket, text_dir, derived))
    if not found:
        raise InputError(
            f"{root} is not a Mirrulations layout: expected raw-data/<agency>/<docket>/text-<docket>/ inside it"
        )
    if docket_id is not None:
        chosen = [d for d in found if d.docket_id == docket_id]
        if not chosen:
            have = ", ".join(d.docket_id for d in found)
            raise InputError(f"docket {docket_id} is not under {root} (it holds: {have})")
        return chosen
    return found


def import_mirrulations(
    con: duckdb.DuckDBPyConnection,
    root: str | Path,
    *,
    docket_id: str | None = None,
    progress: ProgressFn = noop,
) -> ImportReport:
    """Import every docket under `root` (or just `docket_id`); returns counts. Idempotent."""
    dockets = find_dockets(root, docket_id)
    report = ImportReport(source=SOURCE, path=str(root))
    report.documents = {"new": 0, "updated": 0, "unchanged": 0}
    real_root = Path(root).resolve()
    inside = []
    for d in dockets:  # a docket folder linked in from elsewhere is not walked at all
        if problem := _outside(real_root, d.text_dir):
            _reject(con, d.text_dir, d.text_dir.name, problem, report)
        else:
            inside.append(d)
    dockets = inside
    comment_files = {d.docket_id: sorted((d.text_dir / "comments").glob("*.json")) for d in dockets}
    progress(0, total=sum(len(files) for files in comment_files.values()))
    for docket in dockets:
        report.dockets.append(docket.docket_id)
        _import_docket_meta(con, real_root, docket, report)
        files = comment_files[docket.docket_id]
        for start in range(0, len(files), BATCH):
            batch = files[start : start + BATCH]
            _import_comment_batch(con, real_root, docket, batch, report)
            progress(len(batch))
        report.attachments += _import_extracted_text(con, real_root, docket, report)
    return report


# --------------------------------------------------------------------------- reading

_LINK_OUT = "a link to a place outside the import folder (not followed)"


def _outside(real_root: Path, path: Path) -> str | None:
    """Why `path` may not be read: every link in it resolved, it lies outside the (resolved)
    import root, or its links loop. None when it is inside."""
    return _resolved_inside(real_root, path)[1]


def _resolved_inside(real_root: Path, path: Path) -> tuple[Path | None, str | None]:
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError on a loop
        return None, "a link that loops (not followed)"
    return (real, None) if real.is_relative_to(real_root) else (None, _LINK_OUT)


def _read_bytes(real_root: Path, path: Path) -> tuple[bytes | None, str | None]:
    """The bytes of `path` if it is a regular file inside the root and within the cap."""
    real, problem = _resolved_inside(real_root, path)
    if problem:
        return None, problem
    try:
        # The resolved name, opened without following a link and without blocking on a
        # FIFO; fstat then tells what was actually opened.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file (a FIFO, device or socket is never read)"
        if info.st_size > MAX_FILE_BYTES:
            return None, f"larger than the {MAX_FILE_BYTES:,}-byte cap ({info.st_size:,} bytes)"
        try:
            data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            return None, f"cannot read: {exc.strerror or exc}"
    if len(data) > MAX_FILE_BYTES:  # grew while being read
        return None, f"larger than the {MAX_FILE_BYTES:,}-byte cap"
    return data, None


def _load(real_root: Path, path: Path) -> tuple[dict | None, str | None]:
    """(record, None) or (None, why it cannot be used)."""
    data, problem = _read_bytes(real_root, path)
    if problem:
        return None, problem
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return None, "not usable JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return None, f"not usable JSON: {str(exc)[:120]}"
    if _too_deep(record):
        return None, f"not usable JSON: nested more than {MAX_DEPTH} levels deep"
    return record, None


def _too_deep(record) -> bool:
    """Nesting over MAX_DEPTH (checked without recursion, so any depth is safe to check)."""
    stack = [(record, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def _unmappable(build, record) -> str | None:
    """Why the save code's own mapping (`build(record)`) fails on `record`, or None."""
    try:
        build(record)
    except Exception as exc:  # a field of the wrong type somewhere: one reject, not a failed batch
        return f"not a usable record: {type(exc).__name__} while reading its fields"
    return None


def _comment_rows(record) -> None:
    records.comment_row(record)
    records.attachment_rows(record)


def _shape_problem(record, kind: str, expected_id: str | None = None) -> str | None:
    """Why `record` is not a v4 detail record of `kind` ('comments', 'documents', 'dockets'), or None."""
    if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
        return f"not a regulations.gov {kind[:-1]} record (no data object)"
    data = record["data"]
    if not isinstance(data.get("id"), str) or not data["id"].strip():
        return f"not a regulations.gov {kind[:-1]} record (no data.id)"
    if data.get("type") not in (None, kind):
        return f"not a {kind[:-1]} record (type {str(data.get('type'))[:40]!r})"
    if not isinstance(data.get("attributes") or {}, dict):
        return "attributes is not an object"
    if kind == "comments" and not isinstance(record.get("included") or [], list):
        return "included is not a list"
    if expected_id is not None and data["id"] != expected_id:
        return f"record id differs from its file name (file says {expected_id}, record says {data['id'][:60]})"
    return None


def _reject(con: duckdb.DuckDBPyConnection, file: Path, locator: str, reason: str, report: ImportReport) -> None:
    # The file as named in its (resolved) folder: a refused link is recorded as the link, not
    # as where it points; a plain file keeps the key earlier imports gave it.
    try:
        name = str(file.parent.resolve() / file.name)
    except (OSError, RuntimeError):
        name = os.path.abspath(file)
    con.execute(
        "insert or replace into import_rejects (source, file, locator, reason, recorded_at) values (?, ?, ?, ?, ?)",
        [SOURCE, name, locator, reason, records.now_utc()],
    )
    report.skip(reason.split(" (")[0].split(":")[0])


# --------------------------------------------------------------------------- docket and documents


def _import_docket_meta(con: duckdb.DuckDBPyConnection, real_root: Path, docket: DocketDir, report: ImportReport) -> None:
    for path in sorted((docket.text_dir / "docket").glob("*.json")):
        record, problem = _load(real_root, path)
        problem = problem or _shape_problem(record, "dockets") or _unmappable(records.docket_row, record)
        if problem:
            _reject(con, path, path.name, problem, report)
            continue
        existing = con.execute("select raw::varchar from dockets where docket_id = ?", [record["data"]["id"]]).fetchone()
        if existing is None or existing[0] != _dumps(record):
            records.save_docket(con, record, source=SOURCE)
    docs = []
    for path in sorted((docket.text_dir / "documents").glob("*.json")):
        record, problem = _load(real_root, path)
        problem = problem or _shape_problem(record, "documents") or _unmappable(records.document_row, record)
        if problem:
            _reject(con, path, path.name, problem, report)
            continue
        docs.append(record)
    if not docs:
        return
    stored = _stored_raw(con, "documents", "document_id", [d["data"]["id"] for d in docs])
    changed = []
    for record in docs:
        before = stored.get(record["data"]["id"])
        if before is None:
            report.documents["new"] += 1
        elif before == _dumps(record):
            report.documents["unchanged"] += 1
            continue
        else:
            report.documents["updated"] += 1
        changed.append(record)
    records.save_documents(con, changed, source=SOURCE)


def _dumps(record) -> str:
    # The serialization records.comment_row/document_row store in `raw`.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _stored_raw(con, table: str, key: str, ids: list[str]) -> dict[str, str]:
    rows = con.execute(
        f"select {key}, raw::varchar from {table} where {key} in (select unnest(?))", [ids]
    ).fetchall()
    return dict(rows)


# --------------------------------------------------------------------------- comments


def _import_comment_batch(
    con: duckdb.DuckDBPyConnection, real_root: Path, docket: DocketDir, files: list[Path], report: ImportReport
) -> None:
    details, paths = [], {}
    for path in files:
        report.rows_read += 1
        record, problem = _load(real_root, path)
        problem = problem or _shape_problem(record, "comments", expected_id=path.stem)
        if problem:
            _reject(con, path, path.name, problem, report)
            continue
        details.append(record)
        paths.setdefault(record["data"]["id"], path)
    if not details:
        return
    # A file repeated under another name: keep the first copy.
    unique: dict[str, dict] = {}
    for detail in details:
        unique.setdefault(detail["data"]["id"], detail)
    ids = list(unique)
    stored = {
        cid: (raw, source, last_modified)
        for cid, raw, source, last_modified in con.execute(
            "select comment_id, raw::varchar, source, last_modified from comments where comment_id in (select unnest(?))",
            [ids],
        ).fetchall()
    }
    to_save = []
    for cid, detail in unique.items():
        before = stored.get(cid)
        if before is None:
            to_save.append(detail)
            continue
        raw, source, last_modified = before
        if raw == _dumps(detail):
            report.unchanged += 1
        elif source == "api" and last_modified is not None and _modified(detail) is not None and last_modified >= _modified(detail):
            report.skip("already stored from the API, as recent or newer")
        else:
            to_save.append(detail)
    try:
        counts = records.save_comments(con, to_save, source=SOURCE)
    except Exception:
        # A record whose fields the save code cannot map (a list where text belongs, ...) fails
        # the whole call and writes nothing: find it, reject it, save the rest. Looking only
        # after a failure keeps the common case at one mapping per record.
        usable = []
        for detail in to_save:
            if problem := _unmappable(_comment_rows, detail):
                path = paths[detail["data"]["id"]]
                _reject(con, path, path.name, problem, report)
            else:
                usable.append(detail)
        if len(usable) == len(to_save):
            raise  # not a record's fault
        counts = records.save_comments(con, usable, source=SOURCE)
    report.new += counts["new"]
    report.updated += counts["updated"]


def _modified(detail: dict):
    a = detail["data"].get("attributes") or {}
    return records.parse_ts(a.get("lastModifiedDate")) or records.parse_ts(a.get("modifyDate"))


# --------------------------------------------------------------------------- extracted text


def _extracted_files(docket: DocketDir) -> Iterator[tuple[Path, str, int]]:
    """(file, comment id, doc order) for each extracted-text file, first tool's copy first.

    rglob does not descend into linked folders; each file is checked when read."""
    if not docket.derived_dir.is_dir():
        return
    for path in sorted(docket.derived_dir.rglob("*.txt")):
        m = _EXTRACTED_NAME.match(path.name)
        if m and not path.is_dir():
            yield path, m.group("comment"), int(m.group("order"))


def _import_extracted_text(
    con: duckdb.DuckDBPyConnection, real_root: Path, docket: DocketDir, report: ImportReport
) -> int:
    """Fill attachments.text from derived-data/.../extracted_txt; returns rows changed."""
    if docket.derived_dir.is_dir() and (problem := _outside(real_root, docket.derived_dir)):
        _reject(con, docket.derived_dir, docket.derived_dir.name, problem, report)
        return 0
    texts: dict[tuple[str, int], str] = {}
    for path, comment_id, order in _extracted_files(docket):
        if (comment_id, order) in texts:
            continue  # several tools extracted the same file: the first (sorted) wins
        data, problem = _read_bytes(real_root, path)
        if problem:
            _reject(con, path, path.name, problem, report)
            continue
        texts[(comment_id, order)] = data.decode("utf-8", errors="replace").replace("\x00", "").strip()
    if not texts:
        return 0
    batch = pa.table(
        {
            "comment_id": [k[0] for k in texts],
            "doc_order": pa.array([k[1] for k in texts], pa.int32()),
            "text": list(texts.values()),
        }
    )
    con.register("_mirr_text", batch)
    try:
        orphans = con.execute(
            "select t.comment_id, t.doc_order from _mirr_text t anti join attachments a using (comment_id, doc_order)"
        ).fetchall()
        for comment_id, order in orphans:
            _reject(
                con, docket.derived_dir, f"{comment_id}_attachment_{order}",
                "extracted text for an attachment the comment record does not list", report,
            )
        changed = con.execute(
            """
            select count(*) from attachments a join _mirr_text t using (comment_id, doc_order)
            where a.text is distinct from t.text or a.status is distinct from
                  (case when t.text = '' then 'empty' else 'ok' end)
            """
        ).fetchone()[0]
        con.execute(
            """
            update attachments set
                text = t.text,
                status = case when t.text = '' then 'empty' else 'ok' end,
                reason = case when t.text = '' then 'Mirrulations extracted no text' else null end,
                extraction_method = 'mirrulations',
                extracted_at = ?
            from _mirr_text t
            where attachments.comment_id = t.comment_id and attachments.doc_order = t.doc_order
              and (attachments.text is distinct from t.text
                   or attachments.status is distinct from (case when t.text = '' then 'empty' else 'ok' end))
            """,
            [records.now_utc()],
        )
    finally:
        con.unregister("_mirr_text")
    return changed
