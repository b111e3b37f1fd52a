"""Campaign recall on a real docket, by the issue's own measure: of the comments that share a form
letter's opening (their first 150 characters) and run 300+ characters, how many are in that letter's
campaign (the campaign holding most of them)?

Runs on any regulations.gov bulk-download CSV (columns `Document ID` and `Comment`), so a user can
repeat it on their own docket:

    ./run bench campaign_openings --csv ICEB-2015-0002.csv

Prints the figure for letters shared by at least 2, 3 and 5 comments, with and without the
opening step (`CampaignParams.opening`), the letters split over several campaigns, where the
copies left out went (`opening_recall`), and the detector's CPU time. The measure is blind to copies that lost their opening and counts a copy
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
    """The measure, and where the copies left out went:
    - no campaign; of these, `opening_only`: under 20% of the copy's 8-word passages are in its
      letter's template (it kept the opening and wrote the rest);
    - another campaign whose template holds at least as much of the copy as its letter's template
      does (`explained_there`: by content it sits where it belongs, a copy of two letters shown
      under the one it copies more);
    - another campaign while the copy holds 40%+ of its letter's template (a compound letter that
      copies its letter more than the one it sits in);
    - another campaign otherwise.
    `by_content` counts the copies in their letter's campaign and those explained where they sit."""
    group = {m.comment_id: g for g, c in enumerate(campaigns) for m in c.members}
    also = {(a.comment_id, g) for g, c in enumerate(campaigns) for a in c.also_copies}
    keyed = {c.key: g for g, c in enumerate(campaigns)}
    within = {(keyed[key], g) for g, c in enumerate(campaigns) for key, _ in c.contained_in}  # (holder, letter)
    text_of = {d.comment_id: d.text for d in docs}
    template_shingles: dict[int, set] = {}
    letters: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        text = d.text.strip()
        if len(text) >= 300:
            letters[text[:150]].append(d.comment_id)
    def template(g: int) -> set:
        if g not in template_shingles:
            template_shingles[g] = _shingles(campaigns[g].template_text)
        return template_shingles[g]

    copies = grouped = n_letters = split = alone = opening_only = explained_there = compound = listed = 0
    for ids in letters.values():
        if len(ids) < min_copies:
            continue
        n_letters += 1
        held = Counter(group[i] for i in ids if i in group)
        home = held.most_common(1)[0][0] if held else None
        split += len(held) > 1
        copies += len(ids)
        grouped += sum(1 for i in ids if home is not None and group.get(i) == home)
        for i in ids:
            if home is not None and group.get(i) == home:
                continue
            listed += (i, home) in also or (i in group and (group[i], home) in within)
            if i not in group:
                alone += 1
                mine = _shingles(text_of[i])
                opening_only += home is not None and len(template(home) & mine) < 0.2 * max(1, len(mine))
                continue
            mine = _shingles(text_of[i])
            letter, there = len(template(home) & mine), len(template(group[i]) & mine)
            if there >= letter:
                explained_there += 1
            else:
                compound += letter >= 0.4 * max(1, len(template(home)))
    return {"letters": n_letters, "copies": copies, "grouped": grouped, "split": split,
            "recall": grouped / copies if copies else float("nan"), "alone": alone, "opening_only": opening_only,
            "explained_there": explained_there, "compound": compound,
            "by_content": (grouped + explained_there) / copies if copies else float("nan"),
            "listed": listed, "with_listed": (grouped + listed) / copies if copies else float("nan"),
            "other": copies - grouped - alone - explained_there - compound}


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
                  f"left out: {r['alone']} in no campaign ({r['opening_only']} of them hold under 20% of their "
                  f"letter's template), {r['explained_there']} in a campaign whose template holds at least as "
                  f"much of them as their letter's, {r['compound']} in another campaign while holding 40%+ of "
                  f"their letter's template, {r['other']} elsewhere; in their letter's campaign or one that "
                  f"explains them at least as well = {r['by_content']:.3f}")
            print(f"    of those left out, {r['listed']} are listed with their letter's campaign as also copying it "
                  f"(members of another campaign holding as much of this letter as a member must, or of a campaign "
                  f"whose letter holds it: `campaign_also_copies`, `campaigns.contained_in`); members or listed = "
                  f"{r['with_listed']:.3f}")


if __name__ == "__main__":
    main()
