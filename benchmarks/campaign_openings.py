"""Campaign recall on a real docket, by the issue's own measure: of the comments that share a form
letter's opening (their first 150 characters) and run 300+ characters, how many are in that letter's
campaign (the campaign holding most of them)?

Runs on any regulations.gov bulk-download CSV (columns `Document ID` and `Comment`), so a user can
repeat it on their own docket:

    ./run bench campaign_openings --csv ICEB-2015-0002.csv

Prints the figure for letters shared by at least 2, 3 and 5 comments, with and without the
opening step (`CampaignParams.opening`), the letters split over several campaigns, and the
detector's CPU time. The measure is blind to copies that lost their opening and counts a copy
that pastes two letters under the letter it starts with.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from comments.analysis.campaigns import CampaignParams, Doc, detect_campaigns  # noqa: E402
from comments.analysis.stance import classify  # noqa: E402


def read_csv(path: Path) -> list[Doc]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return [Doc(r["Document ID"], r.get("Comment") or "") for r in csv.DictReader(fh)
                if (r.get("Comment") or "").strip()]


def _shingles(text: str, k: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


def opening_recall(docs: list[Doc], campaigns, min_copies: int) -> dict:
    """The measure, and where the copies left out went: no campaign; another campaign while the
    copy also holds 40%+ of its letter's template (a compound letter: two letters pasted together,
    a copy of both, which one campaign per comment cannot show); another campaign otherwise."""
    group = {m.comment_id: g for g, c in enumerate(campaigns) for m in c.members}
    text_of = {d.comment_id: d.text for d in docs}
    template_shingles: dict[int, set] = {}
    letters: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        text = d.text.strip()
        if len(text) >= 300:
            letters[text[:150]].append(d.comment_id)
    copies = grouped = n_letters = split = alone = compound = 0
    for ids in letters.values():
        if len(ids) < min_copies:
            continue
        n_letters += 1
        held = Counter(group[i] for i in ids if i in group)
        home = held.most_common(1)[0][0] if held else None
        split += len(held) > 1
        copies += len(ids)
        grouped += sum(1 for i in ids if home is not None and group.get(i) == home)
        alone += sum(1 for i in ids if i not in group)
        for i in ids:
            if home is not None and group.get(i, home) != home:
                if home not in template_shingles:
                    template_shingles[home] = _shingles(campaigns[home].template_text)
                mine = template_shingles[home]
                compound += len(mine & _shingles(text_of[i])) >= 0.4 * max(1, len(mine))
    return {"letters": n_letters, "copies": copies, "grouped": grouped, "split": split,
            "recall": grouped / copies if copies else float("nan"), "alone": alone, "compound": compound,
            "other": copies - grouped - alone - compound}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, required=True, help="a regulations.gov bulk-download CSV")
    args = parser.parse_args()
    if not args.csv.is_file():
        sys.exit(f"error: no such file: {args.csv}")
    docs = read_csv(args.csv)
    print(f"{args.csv.name}: {len(docs):,} comments with text")
    for label, params in (("without the opening step", CampaignParams(opening=False)),
                          ("with the opening step (default)", CampaignParams())):
        cpu = time.process_time()
        campaigns = detect_campaigns(docs, params, stance_of=lambda t: classify(t).stance)
        cpu = time.process_time() - cpu
        print(f"{label}: {len(campaigns):,} campaigns, {cpu:.1f} CPU-s (stance rules included)")
        for n in (2, 3, 5):
            r = opening_recall(docs, campaigns, n)
            print(f"  openings shared by >= {n}: {r['letters']:,} letters, {r['copies']:,} copies, "
                  f"{r['grouped']:,} in their letter's campaign = {r['recall']:.3f}; letters split {r['split']}; "
                  f"left out: {r['alone']} in no campaign, {r['compound']} in another campaign while holding "
                  f"40%+ of their letter's template (compound letters), {r['other']} elsewhere")


if __name__ == "__main__":
    main()
