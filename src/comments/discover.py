"""Finding dockets and documents worth tracking, with their comment counts.

`discover(client, term, agency=..., open_only=...)` asks regulations.gov's
search (`/documents` with filter[searchTerm], filter[agencyId] and, for
`open_only`, filter[withinCommentPeriod]; `/dockets` with the same term) and
counts each find's comments with one cheap list request (`page[size]=5`,
reading `meta.totalElements`): by `filter[commentOnId]` (the document's
objectId, the documented route) for documents, by `filter[docketId]` for
dockets. Requests: 1 or 2 searches plus one per find, so `limit` bounds the
cost. A count that fails is reported as unknown; the listing goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from comments.errors import InputError

log = logging.getLogger(__name__)

MAX_LIMIT = 250


@dataclass
class Discovery:
    term: str
    agency: str | None
    open_only: bool
    documents: list[dict] = field(default_factory=list)
    dockets: list[dict] = field(default_factory=list)
    requests: int = 0
    count_failures: int = 0

    @property
    def items(self) -> list[dict]:
        """Dockets first, then documents (each a dict with kind, id, docket_id, title, ...)."""
        return self.dockets + self.documents


def _attrs(item: dict) -> dict:
    return item.get("attributes") or {}


def document_item(item: dict) -> dict:
    a = _attrs(item)
    return {
        "kind": "document",
        "id": item.get("id"),
        "docket_id": a.get("docketId"),
        "object_id": a.get("objectId"),
        "agency_id": a.get("agencyId"),
        "title": a.get("title"),
        "document_type": a.get("documentType"),
        "posted_date": a.get("postedDate"),
        "comment_start_date": a.get("commentStartDate"),
        "comment_end_date": a.get("commentEndDate"),
        "open_for_comment": a.get("openForComment"),
        "comment_count": None,
        "url": f"https://www.regulations.gov/document/{item.get('id')}",
    }


def docket_item(item: dict) -> dict:
    a = _attrs(item)
    return {
        "kind": "docket",
        "id": item.get("id"),
        "docket_id": item.get("id"),
        "object_id": a.get("objectId"),
        "agency_id": a.get("agencyId"),
        "title": a.get("title"),
        "docket_type": a.get("docketType"),
        "last_modified": a.get("lastModifiedDate"),
        "comment_count": None,
        "url": f"https://www.regulations.gov/docket/{item.get('id')}",
    }


def discover(
    client,
    term: str,
    *,
    agency: str | None = None,
    open_only: bool = False,
    limit: int = 10,
    count_comments: bool = True,
    progress: Callable[..., None] | None = None,
) -> Discovery:
    """Search documents (and dockets) for `term`; see the module doc. `client` is a RegulationsClient."""
    term = (term or "").strip()
    if not term:
        raise InputError("--term is required: the words to search regulations.gov for")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit must be from 1 to {MAX_LIMIT}")
    agency = agency.strip().upper() if agency else None
    result = Discovery(term=term, agency=agency, open_only=open_only)
    page_size = max(5, limit)  # the API's smallest page is 5

    params: dict[str, object] = {"filter[searchTerm]": term, "sort": "-postedDate", "page[size]": page_size}
    if agency:
        params["filter[agencyId]"] = agency
    if open_only:
        params["filter[withinCommentPeriod]"] = "true"
    body = client.get("documents", params, kind="discover")
    result.requests += 1
    result.documents = [document_item(d) for d in (body.get("data") or [])[:limit]]

    if open_only:
        # The docket search cannot filter on open comment periods: list the
        # dockets of the open documents instead.
        seen: dict[str, dict] = {}
        for doc in result.documents:
            if doc["docket_id"] and doc["docket_id"] not in seen:
                seen[doc["docket_id"]] = {
                    "kind": "docket", "id": doc["docket_id"], "docket_id": doc["docket_id"], "object_id": None,
                    "agency_id": doc["agency_id"], "title": None, "docket_type": None, "last_modified": None,
                    "comment_count": None, "url": f"https://www.regulations.gov/docket/{doc['docket_id']}",
                }
        result.dockets = list(seen.values())
    else:
        dparams: dict[str, object] = {"filter[searchTerm]": term, "sort": "-lastModifiedDate", "page[size]": page_size}
        if agency:
            dparams["filter[agencyId]"] = agency
        body = client.get("dockets", dparams, kind="discover")
        result.requests += 1
        result.dockets = [docket_item(d) for d in (body.get("data") or [])[:limit]]

    if count_comments:
        todo = [(d, {"filter[docketId]": d["id"]}) for d in result.dockets]
        todo += [(d, {"filter[commentOnId]": d["object_id"]}) for d in result.documents if d["object_id"]]
        if progress:
            progress(0, total=len(todo))
        for item, flt in todo:
            item["comment_count"] = _count(client, flt, result)
            if progress:
                progress(1)
    return result


def _count(client, flt: dict, result: Discovery) -> int | None:
    from comments.client import BadRequest, InvalidResponse, NotFound, ServerError, TransportError

    try:
        body = client.get("comments", {**flt, "page[size]": 5}, kind="discover_count")
    except (NotFound, BadRequest, ServerError, TransportError, InvalidResponse) as exc:
        # One failing count must not hide the rest of the listing.
        log.warning("comment count failed for %s: %s", flt, exc)
        result.count_failures += 1
        return None
    finally:
        result.requests += 1
    total = (body.get("meta") or {}).get("totalElements")
    return int(total) if isinstance(total, int | float) else None
