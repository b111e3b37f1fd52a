"""The package works installed, not only editable: SQL and the demo docket travel inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_sql_flows_and_bundled_docket(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=180,
    )
    wheel = next(tmp_path.glob("comments-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "sql" / "schema").glob("*.sql"):
        assert f"comments/sql/schema/{schema.name}" in names
    for view in (ROOT / "sql" / "views").glob("*.sql"):
        assert f"comments/sql/views/{view.name}" in names
    assert "flows/sync_docket.py" in names
    # the explorer's every asset ships in the package (it works offline, with no build step)
    for asset in (ROOT / "src" / "comments" / "explorer").rglob("*"):
        if asset.is_file() and asset.suffix in (".j2", ".css", ".js"):
            assert f"comments/explorer/{asset.relative_to(ROOT / 'src' / 'comments' / 'explorer')}" in names
    for query in (ROOT / "sql" / "explorer").glob("*.sql"):
        assert f"comments/sql/explorer/{query.name}" in names
    bundled = [n for n in names if n.startswith("comments/data/mirrulations/") and n.endswith(".json")]
    assert len(bundled) == 647 + 2  # the comments, the docket and the notice
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "comments = comments.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()
