"""Files that travel with the package: SQL and the bundled demo docket.

Installed, `sql/` lives inside the package as `comments/sql` (hatch
force-include); in a source checkout it is the top-level `sql/` folder.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def sql_dir() -> Path:
    for candidate in (_PKG / "sql", _PKG.parents[1] / "sql"):
        if (candidate / "schema").is_dir():
            return candidate
    raise FileNotFoundError("the package's sql/ folder is missing; reinstall comments")


def sql_text(relative: str) -> str:
    """The text of one SQL file, e.g. `sql_text("views/comment_analysis.sql")`."""
    return (sql_dir() / relative).read_text(encoding="utf-8")


def bundled_mirrulations() -> Path:
    """Root of the bundled Mirrulations-layout snapshot (contains raw-data/)."""
    return _PKG / "data" / "mirrulations"


DEMO_DOCKET = "CMS-2022-0163"


def bundled_labels(docket_id: str = DEMO_DOCKET) -> Path:
    """The analyst labels shipped for a bundled docket (a filled-in `comments label sample` file)."""
    return _PKG / "data" / "labels" / f"{docket_id}.labels.csv"


def bundled_check_labels(docket_id: str = DEMO_DOCKET) -> Path:
    """The check labels shipped for a bundled docket (a filled-in `comments label sample --check` file)."""
    return _PKG / "data" / "labels" / f"{docket_id}.check.csv"


def bundled_theme_audit(docket_id: str = DEMO_DOCKET) -> Path:
    """The theme audit shipped for a bundled docket (a filled-in `comments themes audit` file)."""
    return _PKG / "data" / "labels" / f"{docket_id}.theme_audit.csv"
