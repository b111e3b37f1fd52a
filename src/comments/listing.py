"""A docket's comment list, complete past the API's 5,000-results-per-query cap.

Fetching only: `Lister.pages()` yields `ListPage`s; `comments.sync` saves them.

The rules (API_NOTES, "Paging: trust counts, not flags"):
- One query reaches 20 pages of 250. Whether there is more is decided by
  counts, never by `hasNextPage`/`lastPage` (the real API's page 20 calls
  itself the last page even when thousands more exist). A query is finished
  when it returns a page that is not full (or `totalElements` says the page
  reached the end); 20 full pages mean: re-query from the last item's
  `lastModifiedDate` (`ge`, US Eastern time), overlapping, de-duplicated on id.
- When more than 5,000 comments share the window a re-query cannot move past
  (an agency posting a campaign batch in one second), the window is split:
  by the document commented on (`filter[commentOnId]`), then by posted day
  (`filter[postedDate]`), then read from both ends (`sort=documentId` and
  `-documentId`, up to 10,000 per part). A part that still cannot be paged is
  recorded in `unpaged` with the bulk-download command that fills it; the
  listing goes on past it.
- Every page says up to which instant the docket is now listed (`cursor`):
  pages of a split window say nothing until the whole window is done, so a
  run killed mid-window restarts at the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from comments import records
from comments.client import RegulationsClient

EASTERN = ZoneInfo("America/New_York")
PAGE_SIZE = 250  # the API's largest page
MAX_PAGE_NUMBER = 20  # page[number] above 20 is a 400: one query reaches 5,000 results
QUERY_CAP = PAGE_SIZE * MAX_PAGE_NUMBER


# --------------------------------------------------------------------------- time


def eastern_filter_value(utc: datetime) -> str:
    """The `filter[lastModifiedDate][ge]` value for a UTC instant: US Eastern wall time.

    When that wall time is ambiguous (the repeated hour when daylight saving
    ends), the server may read it as the later of the two instants, which
    would skip comments: step back an hour so either reading is at or before
    the instant (`ge` overlaps; duplicates are dropped on id).
    """
    if utc.tzinfo is None:
        utc = utc.replace(tzinfo=UTC)
    instant = utc.replace(microsecond=0)
    local = instant.astimezone(EASTERN)
    other_fold = local.replace(fold=1 - local.fold)
    if other_fold.utcoffset() != local.utcoffset():  # ambiguous wall time
        local = (instant - timedelta(hours=1)).astimezone(EASTERN)
    return local.strftime("%Y-%m-%d %H:%M:%S")


def eastern_upper_value(utc: datetime) -> str:
    """The `filter[lastModifiedDate][le]` value for a UTC instant: its Eastern wall time, later
    reading when ambiguous (an hour too late at worst: `le` then includes more, never less)."""
    if utc.tzinfo is None:
        utc = utc.replace(tzinfo=UTC)
    instant = utc.replace(microsecond=0)
    local = instant.astimezone(EASTERN)
    other_fold = local.replace(fold=1 - local.fold)
    if other_fold.utcoffset() != local.utcoffset():
        local = (instant + timedelta(hours=1)).astimezone(EASTERN)
    return local.strftime("%Y-%m-%d %H:%M:%S")


def list_modified(item: dict) -> datetime | None:
    return records.parse_ts((item.get("attributes") or {}).get("lastModifiedDate"))


def _posted_day(item: dict) -> date | None:
    posted = records.parse_ts((item.get("attributes") or {}).get("postedDate"))
    if posted is None:
        return None
    return posted.replace(tzinfo=UTC).astimezone(EASTERN).date()


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Slice:
    """The filters of one comment-list query, beyond the docket."""

    lm_ge: str | None = None  # Eastern 'yyyy-MM-dd HH:mm:ss'
    lm_le: str | None = None
    comment_on: str | None = None  # a document's objectId
    posted_day: str | None = None  # 'yyyy-MM-dd'

    def describe(self, docket_id: str) -> str:
        parts = [f"docket {docket_id}"]
        if self.lm_ge and self.lm_ge == self.lm_le:
            parts.append(f"lastModifiedDate {self.lm_ge} Eastern")
        elif self.lm_ge or self.lm_le:
            parts.append(f"lastModifiedDate {self.lm_ge or '...'} to {self.lm_le or '...'} Eastern")
        if self.comment_on:
            parts.append(f"commentOnId {self.comment_on}")
        if self.posted_day:
            parts.append(f"postedDate {self.posted_day}")
        return ", ".join(parts)


@dataclass
class ListPage:
    items: list[dict]
    total: int | None  # totalElements of the query this page belongs to
    query: Slice
    cursor: datetime | None = None  # every comment modified before this instant is now listed


@dataclass
class Unpaged:
    """A part of the list the API cannot page (more than 10,000 comments in one slice)."""

    slice: Slice
    total: int
    listed: int

    def message(self, docket_id: str) -> str:
        return (
            f"{self.total - self.listed:,} comments the API cannot page ({self.slice.describe(docket_id)}: "
            f"{self.total:,} comments, {self.listed:,} listed); download the docket's bulk CSV from "
            f"regulations.gov and run `comments import bulk-csv FILE`, then sync again"
        )


class ListStuck(Exception):
    """The listing cannot go on (an item without lastModifiedDate, a cursor that will not move)."""


@dataclass
class Lister:
    """Pages of one docket's comment list. `documents`: the docket's documents' objectIds."""

    client: RegulationsClient
    docket_id: str
    documents: list[str] = field(default_factory=list)
    unpaged: list[Unpaged] = field(default_factory=list)
    first_total: int | None = None  # totalElements of the first query (the unfiltered one on a full listing)

    def pages(self, since: datetime | None = None) -> Iterator[ListPage]:
        """Every comment modified at or after `since` (None: the whole docket), by lastModifiedDate."""
        ge = eastern_filter_value(since) if since else None
        tried: set[str | None] = set()
        while True:
            if ge in tried:
                raise ListStuck(f"the listing cannot move past lastModifiedDate {ge} Eastern")
            tried.add(ge)
            query = Slice(lm_ge=ge)
            last: dict | None = None
            full = False
            for page in self._query(query):
                if self.first_total is None:
                    self.first_total = page.total
                if page.items:
                    last = page.items[-1]
                    page.cursor = list_modified(last)  # sorted by lastModifiedDate: all before it are listed
                full = page.full
                yield page.as_list_page()
            if not full:
                return
            # 20 full pages: more may follow; re-query from the last item's lastModifiedDate
            end = list_modified(last)
            if end is None:
                raise ListStuck(f"list item {last.get('id')} has no lastModifiedDate")
            next_ge = eastern_filter_value(end)
            if next_ge != ge:
                ge = next_ge
                continue
            # more than 5,000 comments in [ge, end]: read that window by parts
            window = Slice(lm_ge=ge, lm_le=eastern_upper_value(end))
            yield from self._split(window, end)
            ge = eastern_filter_value(end + timedelta(seconds=1))

    # ------------------------------------------------------------ one query

    def _query(self, query: Slice, sort: str = "lastModifiedDate,documentId") -> Iterator[_Page]:
        """Up to 20 pages of one query, until a page that is not full (the flags are not read)."""
        for number in range(1, MAX_PAGE_NUMBER + 1):
            body = self._list(query, number, PAGE_SIZE, sort)
            items = [i for i in (body.get("data") or []) if isinstance(i, dict) and i.get("id")]
            meta = body.get("meta") or {}
            total = _int(meta.get("totalElements"))
            # full = as many as a page holds; a server that serves fewer per page than asked says so in pageSize
            served = _int(meta.get("pageSize"))
            more = len(items) >= min(PAGE_SIZE, served if served and served > 0 else PAGE_SIZE)
            yield _Page(items, total, query, full=more and number == MAX_PAGE_NUMBER)
            if not more:
                return

    def _list(self, query: Slice, number: int, size: int, sort: str = "lastModifiedDate,documentId") -> dict:
        """One page of the comment list under `query`'s filters."""
        return self.client.comment_list(
            self.docket_id, page_number=number, page_size=size, sort=sort,
            last_modified_ge=query.lm_ge, last_modified_le=query.lm_le,
            comment_on_id=query.comment_on, posted_date=query.posted_day,
        )

    def _count(self, query: Slice) -> int | None:
        body = self._list(query, 1, 5)
        return _int((body.get("meta") or {}).get("totalElements"))

    def _first(self, query: Slice, sort: str) -> dict | None:
        body = self._list(query, 1, 5, sort)
        items = body.get("data") or []
        return items[0] if items and isinstance(items[0], dict) else None

    # ------------------------------------------------------------ split windows

    def _split(self, window: Slice, end: datetime) -> Iterator[ListPage]:
        """Every comment of a window holding more than 5,000: by document, then day, then both ends."""
        total = self._count(window)
        covered = 0
        if len(self.documents) > 1:
            for doc in self.documents:
                _, part_total = yield from self._part(Slice(window.lm_ge, window.lm_le, comment_on=doc))
                covered += part_total or 0
        if total is None or covered < total:  # one document, or comments on documents not listed
            yield from self._part(window, total=total, known_cut=True)
        yield ListPage([], total, window, cursor=end)

    def _part(self, part: Slice, *, levels: tuple[str, ...] = ("day", "ends"), total: int | None = None,
              known_cut: bool = False) -> Iterator[ListPage]:
        """A part of a window: read it; when one query cannot reach all of it, split it further."""
        seen: set[str] = set()
        if not known_cut:
            cut = False
            for page in self._query(part):
                total = page.total if page.total is not None else total
                seen.update(i["id"] for i in page.items)
                cut = page.full
                yield page.as_list_page()
            if not cut:
                return seen, total
        if levels[0] == "day":
            seen |= yield from self._by_day(part, total)
        else:
            seen |= yield from self._both_ends(part, total)
        return seen, total

    def _by_day(self, part: Slice, total: int | None) -> Iterator[ListPage]:
        first, last = self._first(part, "postedDate"), self._first(part, "-postedDate")
        start, stop = (first and _posted_day(first)), (last and _posted_day(last))
        seen: set[str] = set()
        counted = 0
        if start is not None and stop is not None:
            day = start
            while day <= stop:
                day_part = Slice(part.lm_ge, part.lm_le, part.comment_on, day.isoformat())
                day_seen, day_total = yield from self._part(day_part, levels=("ends",))
                seen |= day_seen
                counted += day_total if day_total is not None else len(day_seen)
                day += timedelta(days=1)
        if total is None or counted < total:  # comments without a posted date, or no days found
            seen |= yield from self._both_ends(part, total)
        return seen

    def _both_ends(self, part: Slice, total: int | None) -> Iterator[ListPage]:
        """Up to 10,000 comments of a part: the first 5,000 by documentId, then the last 5,000."""
        seen: set[str] = set()
        for sort in ("documentId", "-documentId"):
            for page in self._query(part, sort):
                total = page.total if total is None else total
                seen.update(i["id"] for i in page.items)
                yield page.as_list_page()
        if total is None or len(seen) < total:
            self.unpaged.append(Unpaged(part, max(total or 0, len(seen)), len(seen)))
        return seen


@dataclass
class _Page:
    items: list[dict]
    total: int | None
    query: Slice
    full: bool  # the 20th full page of a query: more may follow
    cursor: datetime | None = None

    def as_list_page(self) -> ListPage:
        return ListPage(self.items, self.total, self.query, self.cursor)


def api_total(client: RegulationsClient, docket_id: str) -> int | None:
    """The docket's comment count as the API reports it (one small request)."""
    body = client.comment_list(docket_id, page_number=1, page_size=5)
    return _int((body.get("meta") or {}).get("totalElements"))


def _int(value) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
