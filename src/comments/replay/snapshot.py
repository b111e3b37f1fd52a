"""The data a replay server serves: dockets, documents, comments, attachment files.

A `Snapshot` holds v4 detail records exactly as the API returns them, plus the
one thing the detail lacks: each comment's `lastModifiedDate` (the list's sort
and cursor field). Comments are kept in per-docket lists sorted by
(lastModifiedDate, id), updated in place on every change, so a list request
is a bisect and a slice rather than a scan. Everything is guarded by one lock:
tests mutate the snapshot while a client pages through it.
"""

from __future__ import annotations

import bisect
import json
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from glob import escape as glob_escape
from pathlib import Path
from zoneinfo import ZoneInfo

from comments.errors import InputError

EASTERN = ZoneInfo("America/New_York")
DOWNLOADS_PREFIX = "https://downloads.regulations.gov/"
_NONE_TS = -(2**62)  # sorts missing dates first
_ID_MAX = "\U0010ffff"
# binary-<docket>/comments_attachments/<id>_attachment_<n>.<ext> (Mirrulations), or <id>/attachment_<n>.<ext>
_FLAT_ATTACHMENT = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_-]*?)_(?P<name>attachment_\d+(?:\.[A-Za-z0-9]*)?)$")
_NESTED_ATTACHMENT = re.compile(r"^attachment_\d+(?:\.[A-Za-z0-9]*)?$")


# ---------------------------------------------------------------- time helpers
def to_epoch(value) -> int | None:
    """Whole UTC seconds from an API timestamp string or a datetime (naive = UTC)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


@lru_cache(maxsize=1 << 16)
def iso_z(epoch: int | None) -> str | None:
    """The API's UTC form, e.g. 2020-08-10T15:58:52Z."""
    if epoch is None or epoch == _NONE_TS:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def eastern_to_epoch(text: str) -> int:
    """A filter value `yyyy-MM-dd HH:mm:ss` (or `yyyy-MM-dd`) read as US Eastern wall time.

    An ambiguous wall time (the repeated hour when DST ends) is read as its
    first occurrence (EDT), so a `ge` filter errs towards returning more.
    """
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            wall = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return int(wall.replace(tzinfo=EASTERN, fold=0).timestamp())
    raise ValueError(text)


def eastern_day_bounds(text: str) -> tuple[int, int]:
    """[start, end) UTC seconds of an Eastern calendar day given as yyyy-MM-dd."""
    day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    start = datetime.combine(day, time(), EASTERN)
    end = datetime.combine(day + timedelta(days=1), time(), EASTERN)
    return int(start.timestamp()), int(end.timestamp())


def _now_epoch() -> int:
    return int(datetime.now(UTC).timestamp())


# ---------------------------------------------------------------- records
class _Comment:
    __slots__ = ("id", "docket_id", "detail", "lm", "posted", "_search")

    def __init__(self, detail: dict, lm: int, posted: int | None = None):
        data = detail["data"]
        attrs = data.setdefault("attributes", {})
        self.id: str = data["id"]
        self.docket_id: str | None = attrs.get("docketId")
        self.detail = detail
        self.lm = lm
        self.posted = to_epoch(attrs.get("postedDate")) if posted is None else posted
        self._search: str | None = None

    @property
    def attrs(self) -> dict:
        return self.detail["data"]["attributes"]

    def search_text(self) -> str:
        if self._search is None:
            a = self.attrs
            parts = (self.id, a.get("title"), a.get("comment"), a.get("organization"),
                     a.get("firstName"), a.get("lastName"), a.get("trackingNbr"))
            self._search = " ".join(str(p) for p in parts if p).lower()
        return self._search

    def list_item(self, base_url: str) -> dict:
        a = self.attrs
        return {
            "id": self.id,
            "type": "comments",
            "attributes": {
                "agencyId": a.get("agencyId"),
                "documentType": a.get("documentType"),
                "highlightedContent": "",
                "lastModifiedDate": iso_z(self.lm),
                "objectId": a.get("objectId"),
                "postedDate": a.get("postedDate"),
                "title": a.get("title"),
                "withdrawn": a.get("withdrawn"),
            },
            "links": {"self": f"{base_url}/comments/{self.id}"},
        }


def _wrap(detail: Mapping) -> dict:
    """A private deep copy of `{"data": {...}, "included": [...]}` or of a bare data object."""
    if "data" not in detail:
        if "id" not in detail or "attributes" not in detail:
            raise ValueError("a detail record needs 'data' (or 'id' and 'attributes')")
        detail = {"data": detail}
    return json.loads(json.dumps(detail, default=str))


@dataclass(frozen=True)
class CommentQuery:
    """A validated comment-list query; times are UTC epoch seconds, bounds inclusive."""

    docket_id: str | None = None
    comment_on: str | None = None
    agency_id: str | None = None
    search: str | None = None
    posted_ge: int | None = None
    posted_lt: int | None = None
    lm_ge: int | None = None
    lm_le: int | None = None
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)


_DEFAULT_SORTS = {(), (("lastModifiedDate", False),), (("lastModifiedDate", False), ("documentId", False))}

# Module-level cache of file bytes: loading the bundled docket for every test stays cheap,
# and each Snapshot still gets its own freshly parsed (mutable) records.
_FILE_CACHE: dict[Path, bytes] = {}
_FILE_CACHE_LOCK = threading.Lock()


def _read_cached(path: Path) -> bytes:
    with _FILE_CACHE_LOCK:
        data = _FILE_CACHE.get(path)
    if data is None:
        data = path.read_bytes()
        with _FILE_CACHE_LOCK:
            _FILE_CACHE[path] = data
    return data


def _load_json(path: Path) -> dict:
    try:
        return json.loads(_read_cached(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None


class Snapshot:
    """Dockets, documents and comments served by a ReplayServer (thread-safe, mutable)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.dockets: dict[str, dict] = {}
        self.documents: dict[str, dict] = {}
        self._comments: dict[str, _Comment] = {}
        self._by_lm: dict[str | None, list[tuple[int, str]]] = {}
        self._all_lm: list[tuple[int, str]] = []
        self._files: dict[str, bytes | Path] = {}
        self._primary: str | None = None
        self.version = 0  # bumped on every change; keys the query cache
        self._query_cache: OrderedDict = OrderedDict()

    # ------------------------------------------------------------ construction
    @classmethod
    def from_mirrulations(cls, root: Path, docket_id: str | None = None) -> Snapshot:
        """Load `raw-data/<agency>/<docket>/text-<docket>/...` (and `binary-<docket>/`) under root."""
        root = Path(root)
        raw = root / "raw-data" if (root / "raw-data").is_dir() else root
        text_dirs = sorted(p for p in raw.glob("*/*/text-*") if p.is_dir())
        if docket_id is not None:
            text_dirs = [p for p in text_dirs if p.name == f"text-{docket_id}"]
        if not text_dirs:
            what = f"docket {docket_id}" if docket_id else "any docket"
            raise InputError(f"no Mirrulations data for {what} under {root} (expected raw-data/<agency>/<docket>/text-<docket>/)")
        snap = cls()
        for text_dir in text_dirs:
            snap._load_docket_dir(text_dir)
        snap._primary = docket_id or text_dirs[0].name[len("text-"):]
        return snap

    def _load_docket_dir(self, text_dir: Path) -> None:
        docket_id = text_dir.name[len("text-"):]
        for path in sorted((text_dir / "docket").glob("*.json")):
            self.add_docket(_load_json(path))
        for path in sorted((text_dir / "documents").glob("*.json")):
            self.add_document(self._with_content(_load_json(path), path))
        with self._lock:
            for path in sorted((text_dir / "comments").glob("*.json")):
                detail = _load_json(path)
                attrs = detail.get("data", {}).get("attributes") or {}
                attrs.setdefault("docketId", docket_id)
                lm = to_epoch(attrs.get("modifyDate")) or to_epoch(attrs.get("postedDate")) or 0
                self._insert(_Comment(detail, lm))
            binary = text_dir.parent / f"binary-{docket_id}"
            if binary.is_dir():
                for path in binary.rglob("*"):
                    if not path.is_file():
                        continue
                    flat = _FLAT_ATTACHMENT.match(path.name)
                    if flat:
                        self._files[f"{flat['id']}/{flat['name']}"] = path
                    elif _NESTED_ATTACHMENT.match(path.name):
                        self._files[f"{path.parent.name}/{path.name}"] = path
            self._changed()
        if docket_id not in self.dockets:  # a docket folder without docket JSON still serves
            self.add_docket({"data": {"id": docket_id, "type": "dockets",
                                      "attributes": {"agencyId": docket_id.split("-")[0]}}})

    def _with_content(self, detail: dict, json_path: Path) -> dict:
        """A document whose text sits beside its JSON (Mirrulations: `<id>_content.htm`) is served
        at `<files>/<id>/content.<ext>`; its detail lists the file in `fileFormats`, as the
        real API's document detail does (records reconstructed without them get them here)."""
        detail = _wrap(detail)
        doc_id = detail["data"]["id"]
        formats = []
        for path in sorted(json_path.parent.glob(f"{glob_escape(doc_id)}_content.*")):
            ext = path.suffix.lstrip(".").lower()
            if not path.is_file() or not ext:
                continue
            with self._lock:
                self._files[f"{doc_id}/content.{ext}"] = path
            formats.append({"fileUrl": f"{DOWNLOADS_PREFIX}{doc_id}/content.{ext}", "format": ext,
                            "size": path.stat().st_size})
        attrs = detail["data"].setdefault("attributes", {})
        if formats and not attrs.get("fileFormats"):
            attrs["fileFormats"] = formats
        return detail

    @classmethod
    def synthetic(
        cls, n_comments: int, docket_id: str = "SYN-2024-0001", seed: int = 0, *,
        burst: int | None = None, documents: int = 1, burst_posted_days: int = 1,
    ) -> Snapshot:
        """n comments cloned from the bundled real docket, with new ids and spread-out dates.

        lastModifiedDates cover four weeks across the end of DST (2024-11-03),
        in bursts: many comments share the same second, as they do when an
        agency posts a batch, and one burst holds `burst` comments (default
        ~2% of the docket; more than 5,000 is more than one query can page).
        Comments are spread over `documents` documents of the docket, and the
        big burst's postedDates over `burst_posted_days` days (an agency that
        re-touches old comments at once).
        """
        from comments.resources import DEMO_DOCKET, bundled_mirrulations

        base = cls.from_mirrulations(bundled_mirrulations(), DEMO_DOCKET)
        templates = [base._comments[i].detail for i in sorted(base._comments)]
        rng = random.Random(seed)
        agency = docket_id.split("-")[0]
        snap = cls()
        snap._primary = docket_id

        docket = json.loads(json.dumps(base.dockets[DEMO_DOCKET]))
        docket["data"]["id"] = docket_id
        docket["data"]["links"] = {"self": f"https://api.regulations.gov/v4/dockets/{docket_id}"}
        docket["data"]["attributes"].update(agencyId=agency, title=f"Synthetic docket {docket_id} (texts from {DEMO_DOCKET})")
        snap.add_docket(docket)

        span = 28 * 86400
        start = int(datetime(2024, 10, 20, 12, 0, tzinfo=UTC).timestamp())
        opened = int(datetime(2024, 10, 18, tzinfo=EASTERN).timestamp())
        doc_ids = []
        for d in range(max(1, documents)):
            document_id = f"{docket_id}-{d + 1:04d}"
            doc_object_id = f"{0x0900006480000000 + seed % 0x1000000 + d * 0x1000000:016x}"
            doc = json.loads(json.dumps(next(iter(base.documents.values()))))
            doc["data"]["id"] = document_id
            doc["data"]["links"] = {"self": f"https://api.regulations.gov/v4/documents/{document_id}"}
            doc["data"]["attributes"].update(
                agencyId=agency, docketId=docket_id, objectId=doc_object_id, postedDate=iso_z(opened),
                commentStartDate=iso_z(opened), commentEndDate=iso_z(start + span), frDocNum=None,
            )
            snap.add_document(doc)
            doc_ids.append((document_id, doc_object_id))

        n_seconds = max(1, n_comments // 8)
        seconds = sorted(rng.sample(range(span), min(n_seconds, span)))
        stamps = [start + seconds[rng.randrange(len(seconds))] for _ in range(n_comments)]
        burst_at = start + seconds[len(seconds) // 2]
        in_burst = set(rng.sample(range(n_comments), min(n_comments, n_comments // 50 if burst is None else burst)))
        for i in in_burst:
            stamps[i] = burst_at

        day_cache: dict[int, tuple[str, str, int]] = {}
        iso_cache: dict[int, str] = {}

        def posted_received(lm: int) -> tuple[str, str, int]:
            day = datetime.fromtimestamp(lm, EASTERN).date().toordinal()
            if day not in day_cache:
                posted = int(datetime.combine(date.fromordinal(day), time(), EASTERN).timestamp())
                received = datetime.combine(date.fromordinal(day - 3), time(), EASTERN)
                day_cache[day] = (iso_z(posted), iso_z(int(received.timestamp())), posted)
            return day_cache[day]

        attachment_seq = 0
        width = max(5, len(str(n_comments)))
        comments = []
        for i in range(n_comments):
            template = templates[rng.randrange(len(templates))]
            tdata = template["data"]
            old_id = tdata["id"]
            cid = f"{docket_id}-{i + 1:0{width}d}"
            lm = stamps[i]
            document_id, doc_object_id = doc_ids[i % len(doc_ids)]
            posted_at = lm - 86400 * (i % burst_posted_days) if i in in_burst and burst_posted_days > 1 else lm
            posted, received, posted_epoch = posted_received(posted_at)
            modified = iso_cache.get(lm) or iso_cache.setdefault(lm, iso_z(lm))
            attrs = dict(tdata["attributes"])
            attrs.update(
                agencyId=agency, docketId=docket_id, commentOn=doc_object_id,
                commentOnDocumentId=document_id, objectId=f"{0x0900006490000000 + i:016x}",
                modifyDate=modified, postedDate=posted, receiveDate=received,
                trackingNbr=f"s{seed:x}-{i:07x}",
            )
            included = []
            for item in template.get("included") or ():
                attachment_seq += 1
                a_attrs = dict(item.get("attributes") or {})
                a_attrs["fileFormats"] = [
                    {**ff, "fileUrl": (ff.get("fileUrl") or "").replace(f"/{old_id}/", f"/{cid}/")}
                    for ff in a_attrs.get("fileFormats") or ()
                ]
                aid = f"{0x09000064a0000000 + attachment_seq:016x}"
                included.append({"id": aid, "type": "attachments",
                                 "links": {"self": f"https://api.regulations.gov/v4/attachments/{aid}"},
                                 "attributes": a_attrs})
            data = {
                "id": cid,
                "type": "comments",
                "links": {"self": f"https://api.regulations.gov/v4/comments/{cid}"},
                "attributes": attrs,
                "relationships": {"attachments": {
                    "data": [{"id": a["id"], "type": "attachments"} for a in included],
                    "links": {
                        "self": f"https://api.regulations.gov/v4/comments/{cid}/relationships/attachments",
                        "related": f"https://api.regulations.gov/v4/comments/{cid}/attachments",
                    },
                }},
            }
            detail = {"data": data, "included": included} if included else {"data": data}
            comments.append(_Comment(detail, lm, posted_epoch))
        with snap._lock:
            for c in comments:
                snap._comments[c.id] = c
            keys = sorted((c.lm, c.id) for c in comments)
            snap._by_lm[docket_id] = keys
            snap._all_lm = list(keys)
            snap._changed()
        return snap

    @classmethod
    def combined(cls, snapshots: Iterable[Snapshot]) -> Snapshot:
        """One snapshot serving every docket of `snapshots` (e.g. several `synthetic` dockets)."""
        snap = cls()
        for other in snapshots:
            with other._lock:
                for detail in other.dockets.values():
                    snap.add_docket(detail)
                snap.documents.update(other.documents)
                snap._files.update(other._files)
                snap._comments.update(other._comments)
                for docket_id, keys in other._by_lm.items():
                    snap._by_lm[docket_id] = sorted([*snap._by_lm.get(docket_id, []), *keys])
        with snap._lock:
            snap._all_lm = sorted((c.lm, c.id) for c in snap._comments.values())
            snap._changed()
        return snap

    # ------------------------------------------------------------ reading
    @property
    def docket_id(self) -> str | None:
        return self._primary

    def __len__(self) -> int:
        return len(self._comments)

    def comment_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._comments)

    def has_comment(self, comment_id: str) -> bool:
        return comment_id in self._comments

    def comment_detail(self, comment_id: str) -> dict:
        """A copy of one comment's stored detail record (`{"data", "included"?}`)."""
        with self._lock:
            return json.loads(json.dumps(self._comments[comment_id].detail))

    def last_modified(self, comment_id: str) -> datetime:
        with self._lock:
            return datetime.fromtimestamp(self._comments[comment_id].lm, UTC)

    def files(self) -> list[str]:
        with self._lock:
            return sorted(self._files)

    def docket_records(self) -> list[dict]:
        with self._lock:
            return list(self.dockets.values())

    def document_records(self) -> list[dict]:
        with self._lock:
            return list(self.documents.values())

    def has_file(self, path: str) -> bool:
        return path.strip("/") in self._files

    def file_bytes(self, path: str) -> bytes | None:
        with self._lock:
            content = self._files.get(path.strip("/"))
        if isinstance(content, Path):
            return content.read_bytes()
        return content

    # ------------------------------------------------------------ changes
    def add_docket(self, detail: Mapping) -> None:
        detail = _wrap(detail)
        with self._lock:
            self.dockets[detail["data"]["id"]] = detail
            if self._primary is None:
                self._primary = detail["data"]["id"]
            self._changed()

    def add_document(self, detail: Mapping) -> None:
        detail = _wrap(detail)
        with self._lock:
            self.documents[detail["data"]["id"]] = detail
            self._changed()

    def add_comment(self, detail: Mapping, last_modified: datetime | None = None) -> str:
        """Add (or replace) a comment; it appears with lastModifiedDate = last_modified or now."""
        detail = _wrap(detail)
        data = detail["data"]
        data.setdefault("attributes", {})
        with self._lock:
            attrs = data["attributes"]
            if not attrs.get("docketId"):
                attrs["docketId"] = self._primary
            lm = to_epoch(last_modified) if last_modified is not None else _now_epoch()
            attrs["modifyDate"] = iso_z(lm)
            if data["id"] in self._comments:
                self._remove(data["id"])
            self._insert(_Comment(detail, lm))
            self._changed()
            return data["id"]

    def touch_comment(self, comment_id: str, last_modified: datetime | None = None, **attribute_changes) -> None:
        """Bump a comment's lastModifiedDate (default now) and optionally change its attributes."""
        with self._lock:
            old = self._comments[comment_id]
            lm = to_epoch(last_modified) if last_modified is not None else _now_epoch()
            self._remove(comment_id)
            attrs = dict(old.attrs)
            attrs.update(attribute_changes)
            attrs["modifyDate"] = iso_z(lm)
            detail = dict(old.detail)
            detail["data"] = {**old.detail["data"], "attributes": attrs}
            self._insert(_Comment(detail, lm))
            self._changed()

    def touch_random(self, rng_pick: Callable[[list[str], int], list[str]], n: int) -> list[str]:
        """Touch n comments chosen by rng_pick(ids, n), each moved past every existing date."""
        with self._lock:
            if not self._all_lm or n <= 0:
                return []
            chosen = rng_pick(list(self._comments), n)
            lm = max(_now_epoch(), self._all_lm[-1][0] + 1)
            for cid in chosen:
                self.touch_comment(cid, datetime.fromtimestamp(lm, UTC))
            return chosen

    def add_file(self, path: str, content: bytes) -> None:
        """Serve `content` at {files_url}/{path}; path like '<commentId>/attachment_1.pdf'."""
        path = path.strip("/")
        if not path or any(part in ("", ".", "..") for part in path.split("/")):
            raise ValueError(f"bad file path {path!r}")
        with self._lock:
            self._files[path] = bytes(content)
            self._changed()

    # ------------------------------------------------------------ internals
    def _insert(self, c: _Comment) -> None:
        self._comments[c.id] = c
        key = (c.lm, c.id)
        bisect.insort(self._by_lm.setdefault(c.docket_id, []), key)
        bisect.insort(self._all_lm, key)

    def _remove(self, comment_id: str) -> None:
        c = self._comments.pop(comment_id)
        key = (c.lm, c.id)
        for index in (self._by_lm.get(c.docket_id, []), self._all_lm):
            at = bisect.bisect_left(index, key)
            if at < len(index) and index[at] == key:
                del index[at]

    def _changed(self) -> None:
        self.version += 1
        self._query_cache.clear()

    # ------------------------------------------------------------ queries
    def select_comments(self, q: CommentQuery) -> Sequence[_Comment]:
        """Every comment matching q, in q's sort order (cached until the next change)."""
        with self._lock:
            cached = self._query_cache.get(q)
            if cached is not None:
                self._query_cache.move_to_end(q)
                return cached
            index = self._by_lm.get(q.docket_id, []) if q.docket_id is not None else self._all_lm
            lo = 0 if q.lm_ge is None else bisect.bisect_left(index, (q.lm_ge, ""))
            hi = len(index) if q.lm_le is None else bisect.bisect_right(index, (q.lm_le, _ID_MAX))
            checks = _comment_checks(q)
            if not checks and q.sort in _DEFAULT_SORTS:  # the sync's query: no need to touch every record
                found = _Slice(index[lo:hi], self._comments, self._lock)
            else:
                found = [self._comments[cid] for _, cid in index[lo:hi]]
                if checks:
                    found = [c for c in found if all(check(c) for check in checks)]
                if q.sort not in _DEFAULT_SORTS:
                    found = sort_records(found, q.sort, _COMMENT_SORT_KEYS, lambda c: c.id)
            self._query_cache[q] = found
            if len(self._query_cache) > 32:
                self._query_cache.popitem(last=False)
            return found

    def get_comment(self, comment_id: str) -> _Comment | None:
        with self._lock:
            return self._comments.get(comment_id)


class _Slice:
    """A slice of a (lastModifiedDate, id) index that looks up comments only when read."""

    def __init__(self, keys: list[tuple[int, str]], comments: dict[str, _Comment], lock):
        self._keys, self._comments, self._lock = keys, comments, lock

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, item):
        with self._lock:  # a touch pops and re-inserts a comment under this lock
            if isinstance(item, slice):
                return [self._comments[cid] for _, cid in self._keys[item]]
            return self._comments[self._keys[item][1]]


def _comment_checks(q: CommentQuery) -> list[Callable[[_Comment], bool]]:
    checks: list[Callable[[_Comment], bool]] = []
    if q.comment_on is not None:
        checks.append(lambda c: c.attrs.get("commentOn") == q.comment_on)
    if q.agency_id is not None:
        want = q.agency_id.lower()
        checks.append(lambda c: str(c.attrs.get("agencyId") or "").lower() == want)
    if q.posted_ge is not None:
        checks.append(lambda c: c.posted is not None and c.posted >= q.posted_ge)
    if q.posted_lt is not None:
        checks.append(lambda c: c.posted is not None and c.posted < q.posted_lt)
    if q.search:
        terms = search_terms(q.search)
        checks.append(lambda c: all(t in c.search_text() for t in terms))
    return checks


def search_terms(text: str) -> list[str]:
    """Words of a searchTerm (a quoted phrase stays one term), lower-cased."""
    return [a or b for a, b in re.findall(r'"([^"]+)"|(\S+)', text.lower())]


_COMMENT_SORT_KEYS: dict[str, Callable] = {
    "lastModifiedDate": lambda c: c.lm,
    "postedDate": lambda c: _NONE_TS if c.posted is None else c.posted,
    "documentId": lambda c: c.id,
}


def sort_records(items: Iterable, sort: tuple[tuple[str, bool], ...], keys: Mapping[str, Callable],
                 id_key: Callable) -> list:
    """Sort by the given keys, ties broken by id ascending (stable sorts, last key first)."""
    result = sorted(items, key=id_key)
    for field, descending in reversed(sort):
        result.sort(key=keys[field], reverse=descending)
    return result
