"""What a list of a docket's comments can be narrowed by: one definition for every reader.

The explorer's lists (SQL over `sql/explorer/comment_facets.sql`) and the
search index (`comments.search_index`) both take a `Filters`, so a filter
means the same thing with and without a search query. Each filter is
defined so that the number the docket page shows and the length of the
list it links to are the same count (see comment_facets.sql).

Filter values come from URLs: they are only ever compared as parameters
(SQL parameters, index terms), never spliced into a query or a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date

# attachment=... values: where a comment's substance is, as the briefing counts it.
ATTACHMENT_STATES = {
    "any": ("read", "unread", "listed"),      # has attachments
    "substance": ("read", "unread"),          # its substance is in attachments (briefing headline)
    "read": ("read",),                        # ... and their text was read
    "unread": ("unread",),                    # ... and it was not read ("not read")
    "none": ("none",),                        # no attachments
}
LABELED = ("yes", "no")
MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class Filters:
    stance: str | None = None
    theme: str | None = None
    campaign: str | None = None        # a campaign id, "any" (in a campaign) or "none"
    ctype: str | None = None           # commenter type
    org: str | None = None             # organization or agency name (the analysis's commenter_name)
    date_from: date | None = None      # day received (posted when not known), inclusive
    date_to: date | None = None
    attachment: str | None = None      # a key of ATTACHMENT_STATES
    unique: bool = False               # one row per unique text (a campaign once)
    labeled: str | None = None         # yes | no: has an analyst label (lists only, not search)

    # URL parameter names (date_from/date_to read better as from/to)
    _PARAMS = {"date_from": "from", "date_to": "to"}

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> tuple[Filters, list[str]]:
        """Filters from URL parameters, and a note for each value that was ignored (never an error)."""
        values: dict = {}
        notes: list[str] = []
        for f in fields(cls):
            name = cls._PARAMS.get(f.name, f.name)
            raw = params.get(name)
            if raw is None:
                continue
            raw = str(raw).strip()
            if not raw:
                continue
            if len(raw) > MAX_VALUE_CHARS:
                notes.append(f"filter {name!r} ignored: longer than {MAX_VALUE_CHARS} characters")
                continue
            if f.name in ("date_from", "date_to"):
                try:
                    values[f.name] = date.fromisoformat(raw)
                except ValueError:
                    notes.append(f"filter {name!r} ignored: {raw!r} is not a date (YYYY-MM-DD)")
            elif f.name == "unique":
                values[f.name] = raw.lower() in ("1", "yes", "true", "on")
            elif f.name == "attachment" and raw not in ATTACHMENT_STATES:
                notes.append(f"filter 'attachment' ignored: use one of {', '.join(ATTACHMENT_STATES)}")
            elif f.name == "labeled" and raw not in LABELED:
                notes.append("filter 'labeled' ignored: use yes or no")
            else:
                values[f.name] = raw
        return cls(**values), notes

    def to_params(self) -> dict[str, str]:
        """The URL parameters that give these filters back (empty ones left out)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, False, ""):
                continue
            name = self._PARAMS.get(f.name, f.name)
            out[name] = "1" if value is True else value.isoformat() if isinstance(value, date) else str(value)
        return out

    def without(self, *names: str) -> Filters:
        return replace(self, **{n: (False if n == "unique" else None) for n in names})

    @property
    def active(self) -> bool:
        return bool(self.to_params())

    @property
    def attachment_states(self) -> tuple[str, ...] | None:
        return ATTACHMENT_STATES.get(self.attachment) if self.attachment else None

    def describe(self) -> list[tuple[str, str]]:
        """(field name, human description) of each active filter, for the page header."""
        labels = {
            "stance": "stance", "theme": "theme", "campaign": "campaign", "ctype": "sender",
            "org": "organization", "date_from": "from", "date_to": "to", "attachment": "attachments",
            "labeled": "analyst label",
        }
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, False, ""):
                continue
            out.append((f.name, "one per unique text" if f.name == "unique" else f"{labels[f.name]}: {value}"))
        return out
