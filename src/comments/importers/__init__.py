"""Importers for the other ways a docket arrives: regulations.gov's bulk-download
CSV and a local Mirrulations mirror. Both write the same tables as the API sync,
keyed on the API's own ids, so a later sync merges instead of duplicating.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportReport:
    """What one import did. `skipped` maps a reason to how many records it covers."""

    source: str  # 'bulk_csv' | 'mirrulations'
    path: str
    rows_read: int = 0  # records (rows or JSON files) read, malformed ones included
    new: int = 0  # comments inserted
    updated: int = 0  # comments whose stored values changed
    unchanged: int = 0  # comments already stored with the same values
    skipped: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)  # new / updated / unchanged / skipped
    dockets: list[str] = field(default_factory=list)
    attachments: int = 0  # attachment rows written (metadata; extracted text for Mirrulations)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    def summary(self) -> str:
        """One line for the CLI."""
        parts = [f"{self.new:,} new", f"{self.updated:,} updated", f"{self.unchanged:,} unchanged"]
        line = f"{self.source} {self.path}: comments " + ", ".join(parts)
        if self.skipped:
            reasons = "; ".join(f"{n:,} {reason}" for reason, n in sorted(self.skipped.items()))
            line += f"; skipped {self.skipped_total:,} ({reasons})"
        else:
            line += "; skipped 0"
        if self.documents:
            docs = ", ".join(f"{n:,} {k}" for k, n in self.documents.items() if n)
            line += f"; documents: {docs or 'none'}"
        if self.attachments:
            line += f"; attachments: {self.attachments:,}"
        return line
