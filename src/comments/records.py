"""Rows for the store from the API's own JSON (detail records), and the writes.

The live sync, the Mirrulations import and the replay server's snapshot all
speak the v4 detail format, so they all come through here: one mapping, one
set of save functions (habit: an offline path is a normal path).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import duckdb

from comments import store
from comments.textutil import html_to_text

# Formats we can read, best first, when an attachment is offered in several.
TEXT_FORMAT_PREFERENCE = ("txt", "docx", "pdf", "htm", "html", "rtf", "doc", "xml", "wpd")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_ts(value) -> datetime | None:
    """UTC timestamp from the API's ISO strings ('2022-10-24T14:49:23Z', '...04:00Z')."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
        parsed = parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    except (ValueError, OverflowError):  # '0001-01-01T00:00:00+01:00' overflows into year 0
        return None
    # regulations.gov holds nothing this old; an earlier year would overflow the US Eastern
    # conversion of the sync's cursor or be written without four digits in its filter.
    return parsed if parsed.year >= MIN_YEAR else None


MIN_YEAR = 1900


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "y")


def _str(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def comment_row(
    detail: Mapping,
    *,
    last_modified=None,
    source: str = "api",
    fetched_at: datetime | None = None,
) -> dict:
    """A `comments` row from a v4 comment-detail response (`{"data": ..., "included": ...}`).

    `last_modified` is the list item's lastModifiedDate (the detail has only
    modifyDate); without it, modifyDate stands in.
    """
    data = detail["data"]
    a = data.get("attributes") or {}
    rel = ((data.get("relationships") or {}).get("attachments") or {}).get("data")
    return {
        "comment_id": data["id"],
        "docket_id": _str(a.get("docketId")) or _docket_from_id(data["id"]),
        "document_id": _str(a.get("commentOnDocumentId")),
        "comment_on_object_id": _str(a.get("commentOn")),
        "agency_id": _str(a.get("agencyId")),
        "document_type": _str(a.get("documentType")),
        "subtype": _str(a.get("subtype")),
        "posted_date": parse_ts(a.get("postedDate")),
        "received_date": parse_ts(a.get("receiveDate")),
        "postmark_date": parse_ts(a.get("postmarkDate")),
        "last_modified": parse_ts(last_modified) or parse_ts(a.get("lastModifiedDate")) or parse_ts(a.get("modifyDate")),
        "modify_date": parse_ts(a.get("modifyDate")),
        "title": _str(a.get("title")),
        "text": html_to_text(a.get("comment")),
        "organization": _str(a.get("organization")),
        "category": _str(a.get("category")),
        "gov_agency": _str(a.get("govAgency")),
        "gov_agency_type": _str(a.get("govAgencyType")),
        "first_name": _str(a.get("firstName")),
        "last_name": _str(a.get("lastName")),
        "city": _str(a.get("city")),
        "state": _str(a.get("stateProvinceRegion")),
        "country": _str(a.get("country")),
        "submitter_rep": _str(a.get("submitterRep")),
        "duplicate_comments": _int(a.get("duplicateComments")),
        "tracking_nbr": _str(a.get("trackingNbr")),
        "withdrawn": _bool(a.get("withdrawn")),
        "reason_withdrawn": _str(a.get("reasonWithdrawn")),
        "restrict_reason": _str(a.get("restrictReason")),
        "page_count": _int(a.get("pageCount")),
        "attachment_count": len(rel) if isinstance(rel, list) else None,
        "source": source,
        "raw": json.dumps(detail, ensure_ascii=False, separators=(",", ":")),
        # A bulk CSV's provenance (migration 010) no longer describes this row.
        "source_file_id": None,
        "source_line": None,
        "source_extra": None,
        "fetched_at": fetched_at or now_utc(),
    }


def _docket_from_id(comment_id: str) -> str:
    # CMS-2022-0163-0002 -> CMS-2022-0163 (the docket is the id less its last part)
    return comment_id.rsplit("-", 1)[0]


def choose_file(file_formats) -> tuple[str | None, str | None, int | None]:
    """(url, format, size) of the most text-bearing format offered."""
    if not file_formats:
        return None, None, None
    def rank(f):
        fmt = (f.get("format") or "").lower()
        return TEXT_FORMAT_PREFERENCE.index(fmt) if fmt in TEXT_FORMAT_PREFERENCE else len(TEXT_FORMAT_PREFERENCE)
    best = sorted(file_formats, key=rank)[0]
    return _str(best.get("fileUrl")), (_str(best.get("format")) or "").lower() or None, _int(best.get("size"))


def attachment_rows(detail: Mapping) -> list[dict]:
    """`attachments` rows (metadata) from a detail response fetched with include=attachments."""
    comment_id = detail["data"]["id"]
    rows = []
    for position, item in enumerate(detail.get("included") or [], start=1):
        if item.get("type") != "attachments":
            continue
        a = item.get("attributes") or {}
        formats = a.get("fileFormats") or []
        url, fmt, size = choose_file(formats)
        restricted = _str(a.get("restrictReason"))
        rows.append(
            {
                "comment_id": comment_id,
                "doc_order": _int(a.get("docOrder")) or position,
                "attachment_id": _str(item.get("id")),
                "title": _str(a.get("title")),
                "url": url,
                "format": fmt,
                "size_bytes": size,
                "file_formats": json.dumps(formats),
                "restrict_reason": restricted,
                "modify_date": parse_ts(a.get("modifyDate")),
            }
        )
    return rows


def docket_row(detail: Mapping, *, source: str = "api") -> dict:
    data = detail["data"]
    a = data.get("attributes") or {}
    return {
        "docket_id": data["id"],
        "agency_id": _str(a.get("agencyId")),
        "title": _str(a.get("title")),
        "docket_type": _str(a.get("docketType")),
        "rin": _str(a.get("rin")),
        "abstract": html_to_text(a.get("dkAbstract")),
        "last_modified": parse_ts(a.get("lastModifiedDate")) or parse_ts(a.get("modifyDate")),
        "source": source,
        "raw": json.dumps(detail, ensure_ascii=False, separators=(",", ":")),
        "fetched_at": now_utc(),
    }


def document_row(record: Mapping, *, source: str = "api") -> dict:
    """A `documents` row from a list item or a detail response's `data`."""
    data = record.get("data", record)
    a = data.get("attributes") or {}
    return {
        "document_id": data["id"],
        "docket_id": _str(a.get("docketId")),
        "object_id": _str(a.get("objectId")),
        "document_type": _str(a.get("documentType")),
        "subtype": _str(a.get("subtype")),
        "title": _str(a.get("title")),
        "fr_doc_num": _str(a.get("frDocNum")),
        "posted_date": parse_ts(a.get("postedDate")),
        "comment_start_date": parse_ts(a.get("commentStartDate")),
        "comment_end_date": parse_ts(a.get("commentEndDate")),
        "open_for_comment": _bool(a.get("openForComment")),
        "withdrawn": _bool(a.get("withdrawn")),
        "last_modified": parse_ts(a.get("lastModifiedDate")),
        "source": source,
        "raw": json.dumps(record, ensure_ascii=False, separators=(",", ":")),
        "source_file_id": None,
        "source_line": None,
        "fetched_at": now_utc(),
    }


# Columns of `attachments` that describe the file as the API lists it; the
# download/extraction columns (sha256, status, text, ...) are kept on upsert.
_ATTACHMENT_META = (
    "comment_id", "doc_order", "attachment_id", "title", "url", "format", "size_bytes",
    "file_formats", "restrict_reason", "modify_date",
)


def save_comments(
    con: duckdb.DuckDBPyConnection,
    details: Iterable[Mapping],
    *,
    last_modified: Mapping[str, object] | None = None,
    source: str = "api",
    also=None,
) -> dict[str, int]:
    """Upsert comment details and their attachment metadata in one transaction.

    Returns counts {"new": n, "updated": n}. Attachments whose URL changed are
    reset to 'pending' so the attachment stage fetches them again; others keep
    their extracted text. `also(con)`, when given, runs inside the same
    transaction before the commit (the sync advances its cursor there, so a
    killed process never has a cursor ahead of what is stored).
    """
    last_modified = last_modified or {}
    fetched = now_utc()
    rows, attachments = [], []
    for detail in details:
        row = comment_row(detail, last_modified=last_modified.get(detail["data"]["id"]), source=source, fetched_at=fetched)
        rows.append(row)
        attachments.extend(attachment_rows(detail))
    if not rows:
        return {"new": 0, "updated": 0}
    ids = [r["comment_id"] for r in rows]
    con.execute("begin transaction")
    try:
        existing = {
            r[0] for r in con.execute("select comment_id from comments where comment_id in (select unnest(?))", [ids]).fetchall()
        }
        store.upsert(con, "comments", rows, ["comment_id"])
        save_attachment_metadata(con, attachments)
        if also is not None:
            also(con)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    new = len(set(ids) - existing)
    return {"new": new, "updated": len(set(ids)) - new}


def save_attachment_metadata(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Upsert attachment metadata, keeping download/extraction results unless the file changed."""
    if not rows:
        return
    import pyarrow as pa

    batch = pa.Table.from_pylist([{k: r.get(k) for k in _ATTACHMENT_META} for r in rows])
    con.register("_att_meta", batch)
    try:
        cols = ", ".join(_ATTACHMENT_META)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ATTACHMENT_META[2:])
        con.execute(
            f"""
            insert into attachments ({cols}) select {cols} from _att_meta
            on conflict (comment_id, doc_order) do update set {updates},
                status = case when attachments.url is distinct from excluded.url then 'pending' else attachments.status end,
                text = case when attachments.url is distinct from excluded.url then null else attachments.text end
            """
        )
    finally:
        con.unregister("_att_meta")


def save_docket(con: duckdb.DuckDBPyConnection, detail: Mapping, *, source: str = "api") -> None:
    store.upsert(con, "dockets", [docket_row(detail, source=source)], ["docket_id"])


def save_documents(con: duckdb.DuckDBPyConnection, records: Iterable[Mapping], *, source: str = "api") -> int:
    return store.upsert(con, "documents", [document_row(r, source=source) for r in records], ["document_id"])
