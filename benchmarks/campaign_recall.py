"""Campaign recall on personalised and damaged copies of real form letters.

    .venv/bin/python benchmarks/campaign_recall.py                 # the docket, 3 seeds
    .venv/bin/python benchmarks/campaign_recall.py --seeds 1 --show 5   # and 5 missed copies per kind
    .venv/bin/python benchmarks/campaign_recall.py --without-rescue     # the word shingles alone

Issue 10 measured on a real 22,567-comment docket that 35% of the comments
sharing a form letter's opening were left out of its campaign: copies whose
senders wrote their own sentences around the letter, and copies whose text
came out of a PDF or a web form with spaces lost between words ("supportthe",
"governmentshould"). This builds a docket of that kind from real text and
measures, with known answers, how many copies `detect_campaigns` groups with
their letter and whether it ever merges two letters.

The docket (deterministic for a seed):
- letters: the real form letters of the two bundled dockets (CMS-2022-0163's
  "One piece of information..." letter and its smaller ones, CMS-2025-0050's
  "privacy rights for patients as well as parental rights" letter, ...) and
  long real comments of both dockets used as letters (distinct: no two share
  an 8-word passage). Several letters are on one topic (sex and gender,
  privacy), so a detector that groups by topic merges them;
- copies of each letter (a few big campaigns, many small), of four kinds:
  `exact` (case, spacing or `&amp;` changed at most); `personalised` (the
  opening kept; some sentences dropped, blocks reordered, the end truncated;
  the sender's own sentences, taken from other real comments, added before,
  inside or after the letter; greeting and signature with a name);
  `damaged` (an exact copy as text extraction leaves it: spaces lost between
  some words, lines hard-wrapped with words broken across lines, with or
  without a hyphen, line breaks lost so the words at line ends are glued,
  straight and curly quotes swapped, page numbers inside the text);
  `both` (personalised, then damaged). For a third of the letters no clean
  copy is posted at all: every copy is personalised or damaged, so no copy
  can serve as a clean template;
- singletons: two thirds of the other real comments of the two dockets (they
  share stock phrases, quoted RFI questions and topics with the letters, never
  a letter); the sentences senders add come from the last third, kept out.

Measures:
- recall: share of a letter's copies in the campaign that holds most of them
  (a letter split over two campaigns counts only the larger), by kind;
- precision: share of campaign members that come from their campaign's
  majority letter (a singleton in a campaign is an error);
- merged campaigns: campaigns holding copies of two or more letters (must be 0);
- split letters: letters whose copies are spread over more than one campaign;
- opening-150 recall: the issue's own measure, over the copies that share their letter's
  first 150 characters and run 300 or more.
The detector's time on the docket is printed too (CPU and wall seconds).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from near_duplicates import FIRST_NAMES, GREETINGS, LAST_NAMES, real_texts  # noqa: E402

from comments.analysis.campaigns import CampaignParams, Doc, detect_campaigns  # noqa: E402
from comments.analysis.normalize import normalize, sentences  # noqa: E402

KINDS = ("exact", "personalised", "damaged", "both")


# ---------------------------------------------------------------- real letters


def _shingles(text: str, k: int = 8) -> set[str]:
    words = normalize(text).split()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def letters_and_singletons(max_letters: int = 40, min_words: int = 80) -> tuple[list[str], list[str]]:
    """(letters, singletons) from the real texts of both bundled dockets.

    Letters: the templates of the real campaigns (three or more posted copies),
    then long real comments, no two sharing an 8-word passage. Singletons: the
    other real comments, none of them sharing a passage with a letter or
    belonging to a real campaign.
    """
    texts = real_texts()
    docs = [Doc(f"R{i}", t) for i, t in enumerate(texts)]
    real = detect_campaigns(docs)
    in_campaign = {m.comment_id for c in real for m in c.members}
    letters: list[str] = []
    seen: set[str] = set()
    for c in real:
        if len(c.members) >= 3:
            letters.append(c.template_text)
            seen |= _shingles(c.template_text)
    rest = sorted({t for d, t in zip(docs, texts, strict=True) if d.comment_id not in in_campaign}, key=lambda t: (-len(t), t))
    for text in rest:
        if len(letters) >= max_letters:
            break
        n = len(normalize(text).split())
        if n < min_words or n > 900:
            continue
        sh = _shingles(text)
        if len(sh & seen) > 2:
            continue
        seen |= sh
        letters.append(text)
    singles = []
    for text in rest:
        if text in letters or len(normalize(text).split()) < 5:
            continue
        if len(_shingles(text) & seen) > 1:
            continue
        singles.append(text)
    return letters, singles


# ---------------------------------------------------------------- edits


def _sentence_list(text: str) -> list[list[str]]:
    """Paragraphs as lists of sentences (verbatim)."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        sents = [para[a:b] for a, b in sentences(para)]
        if sents:
            out.append(sents)
    return out


def personalise(letter: str, rng: random.Random, own_pool: list[str]) -> str:
    """The letter as a sender edits it: opening kept, reasons dropped or moved, own sentences added."""
    paras = _sentence_list(letter)
    opening_para = paras[0]
    # a greeting line alone is not the opening: keep the first sentence after it too
    keep_first = 2 if len(opening_para) > 1 and len(opening_para[0].split()) <= 6 else 1
    drop = rng.uniform(0.0, 0.4)
    body = []
    for pi, para in enumerate(paras):
        kept = [s for si, s in enumerate(para) if (pi == 0 and si < keep_first) or rng.random() >= drop]
        if kept:
            body.append(kept)
    if len(body) > 3 and rng.random() < 0.3:  # move a block of reasons
        a = rng.randrange(1, len(body) - 1)
        b = rng.randrange(a + 1, len(body))
        body = body[:1] + body[a:b + 1] + body[1:a] + body[b + 1:]
    if rng.random() < 0.25:  # stop partway
        flat = sum(len(p) for p in body)
        keep = max(keep_first + 1, int(flat * rng.uniform(0.55, 0.9)))
        cut, n = [], 0
        for para in body:
            if n >= keep:
                break
            cut.append(para[: keep - n])
            n += len(cut[-1])
        body = cut
    if rng.random() < 0.8 and own_pool:  # the sender's own sentences
        own = [own_pool[rng.randrange(len(own_pool))] for _ in range(rng.randint(1, 4))]
        where = rng.random()
        if where < 0.35:
            body.insert(0 if rng.random() < 0.5 or len(body) < 2 else 1, own)
        elif where < 0.6 and len(body) > 1:
            body.insert(rng.randrange(1, len(body)), own)
        else:
            body.append(own)
    text = "\n\n".join(" ".join(p) for p in body)
    if rng.random() < 0.4:
        text = rng.choice(GREETINGS) + "\n\n" + text
    if rng.random() < 0.6:
        text += f"\n\nSincerely,\n{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    return text


def trivially_varied(letter: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.1:
        return letter.replace("&", "&amp;")
    if r < 0.2:
        return letter.upper()
    if r < 0.3:
        return "  " + letter.replace(". ", ".  ") + "\n"
    return letter


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "'": "’", '"': "”"})


def damage(text: str, rng: random.Random) -> str:
    """The text as PDF or web-form extraction leaves it."""
    # hard-wrapped lines, words broken across them (with a hyphen or without)
    if rng.random() < 0.6:
        width = rng.randint(50, 80)
        lines, line = [], ""
        for word in re.split(r"[ \t]+", text):
            if len(line) + 1 + len(word) <= width or not line:
                line = f"{line} {word}" if line else word
                continue
            if len(word) > 6 and rng.random() < 0.35:
                cut = rng.randrange(3, len(word) - 2)
                lines.append(f"{line} {word[:cut]}" + ("-" if rng.random() < 0.5 else ""))
                line = word[cut:]
            else:
                lines.append(line)
                line = word
        lines.append(line)
        joiner = "" if rng.random() < 0.3 else "\n"  # line breaks lost: the words at line ends glue
        text = joiner.join(lines)
    # spaces lost between some words
    rate = rng.uniform(0.03, 0.15)
    text = re.sub(r"(?<=[a-z,.]) (?=[a-zA-Z])", lambda m: "" if rng.random() < rate else " ", text)
    if rng.random() < 0.7:  # straight and curly quotes swapped
        text = text.translate(_QUOTES)
    if rng.random() < 0.3:  # a page number and header in the middle
        cut = text.find(" ", len(text) // 2)
        if cut > 0:
            text = text[:cut] + f"\n{rng.randint(2, 9)}\n" + text[cut:]
    return text


# ---------------------------------------------------------------- the docket


def build(seed: int, max_letters: int = 40, copies: int = 3000):
    """(docs, letter index per doc or -1, kind per doc)."""
    rng = random.Random(seed)
    letters, singles = letters_and_singletons(max_letters)
    # senders' own sentences come from real comments kept out of the docket (a sentence
    # taken from a comment in it would be a real shared passage)
    rng.shuffle(singles)
    donors, singles = singles[: len(singles) // 3], singles[len(singles) // 3 :]
    own_pool = [s for t in donors for a, b in sentences(t) if 6 <= len((s := t[a:b]).split()) <= 40]
    weights = np.array([1 / (i + 1) ** 0.9 for i in range(len(letters))])
    sizes = np.maximum(3, np.round(copies * weights / weights.sum())).astype(int)
    no_clean = set(rng.sample(range(len(letters)), len(letters) // 3))
    rows = []
    for li, (letter, size) in enumerate(zip(letters, sizes.tolist(), strict=True)):
        for _ in range(size):
            r = rng.random()
            if li in no_clean:
                kind = "personalised" if r < 0.5 else ("damaged" if r < 0.7 else "both")
            else:
                kind = "exact" if r < 0.25 else ("personalised" if r < 0.6 else ("damaged" if r < 0.8 else "both"))
            if kind == "exact":
                text = trivially_varied(letter, rng)
            elif kind == "personalised":
                text = personalise(letter, rng, own_pool)
            elif kind == "damaged":
                text = damage(letter, rng)
            else:
                text = damage(personalise(letter, rng, own_pool), rng)
            rows.append((text, li, kind))
    rows += [(t, -1, "single") for t in singles]
    rng.shuffle(rows)
    docs = [Doc(f"B-{k:06d}", text) for k, (text, _, _) in enumerate(rows)]
    return docs, np.array([r[1] for r in rows], dtype=np.int64), [r[2] for r in rows], letters


# ---------------------------------------------------------------- scoring


def score(docs, labels, kinds, campaigns, letters=None) -> dict:
    index = {d.comment_id: i for i, d in enumerate(docs)}
    group = np.full(len(docs), -1, dtype=np.int64)
    for g, c in enumerate(campaigns):
        for m in c.members:
            group[index[m.comment_id]] = g
    kinds_arr = np.array(kinds)
    # each letter's campaign: the one holding most of its copies
    home = {}
    split = 0
    for letter in sorted(set(labels.tolist()) - {-1}):
        held = Counter(group[(labels == letter) & (group >= 0)].tolist())
        home[letter] = held.most_common(1)[0][0] if held else -2
        split += len(held) > 1
    grouped_home = np.array([labels[i] >= 0 and group[i] == home[int(labels[i])] for i in range(len(docs))])
    out = {}
    for kind in KINDS:
        mask = kinds_arr == kind
        out[f"recall_{kind}"] = float(grouped_home[mask].mean()) if mask.any() else None
        out[f"n_{kind}"] = int(mask.sum())
    copies = labels >= 0
    out["recall"] = float(grouped_home[copies].mean())
    if letters is not None:
        # the issue's own measure: comments that share a letter's first 150 characters and run 300+
        opening = np.array([labels[i] >= 0 and len(docs[i].text) >= 300
                            and docs[i].text.strip()[:150] == letters[int(labels[i])].strip()[:150]
                            for i in range(len(docs))])
        out["recall_opening150"] = float(grouped_home[opening].mean()) if opening.any() else None
        out["n_opening150"] = int(opening.sum())
    # precision and merges
    wrong = merged = 0
    for g in range(len(campaigns)):
        members = labels[group == g]
        by_letter = Counter(members.tolist())
        top, n_top = max(((k, v) for k, v in by_letter.items() if k >= 0), key=lambda kv: kv[1], default=(-1, 0))
        wrong += len(members) - n_top
        merged += sum(1 for k in by_letter if k >= 0) > 1
    placed = int((group >= 0).sum())
    out["precision"] = 1 - wrong / placed if placed else 1.0
    out["wrong_members"] = wrong
    out["merged_campaigns"] = merged
    out["split_letters"] = split
    out["campaigns"] = len(campaigns)
    out["missed"] = {kind: [int(i) for i in np.flatnonzero((kinds_arr == kind) & copies & ~grouped_home)] for kind in KINDS}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="dockets to build (seeds 1..N)")
    parser.add_argument("--letters", type=int, default=40)
    parser.add_argument("--copies", type=int, default=3000, help="copies over all letters (about)")
    parser.add_argument("--show", type=int, default=0, help="print this many missed copies per kind")
    parser.add_argument("--without-rescue", action="store_true",
                        help="measure the detector without its second look at damaged copies (rescue=False)")
    args = parser.parse_args()
    params = CampaignParams(rescue=not args.without_rescue)
    totals: dict[str, list] = defaultdict(list)
    print(f"{'seed':>4} {'docs':>6} {'copies':>6} {'recall':>7} " + " ".join(f"{k:>12}" for k in KINDS)
          + f" {'precision':>9} {'merged':>6} {'split':>5} {'cpu s':>6} {'wall s':>6}")
    for seed in range(1, args.seeds + 1):
        docs, labels, kinds, letters = build(seed, args.letters, args.copies)
        wall, cpu = time.perf_counter(), time.process_time()
        campaigns = detect_campaigns(docs, params)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        s = score(docs, labels, kinds, campaigns, letters)
        for k in ("recall", "precision", "merged_campaigns", "split_letters", "recall_opening150", *(f"recall_{k}" for k in KINDS)):
            totals[k].append(s[k])
        n_copies = int((labels >= 0).sum())
        print(f"{seed:>4} {len(docs):>6,} {n_copies:>6,} {s['recall']:>7.3f} "
              + " ".join(f"{s[f'recall_{k}']:>6.3f} ({s[f'n_{k}']:>4})" for k in KINDS)
              + f" {s['precision']:>9.4f} {s['merged_campaigns']:>6} {s['split_letters']:>5} {cpu:>6.2f} {wall:>6.2f}"
              + f"   opening-150 recall {s['recall_opening150']:.3f} ({s['n_opening150']})", flush=True)
        for kind in KINDS:
            for i in s["missed"][kind][: args.show]:
                print(f"  missed {kind} copy of letter {labels[i]} ({docs[i].comment_id}): {docs[i].text[:300]!r}")
    if args.seeds > 1:
        print(f"mean {'':>6} {'':>6} {np.mean(totals['recall']):>7.3f} "
              + " ".join(f"{np.mean(totals[f'recall_{k}']):>6.3f} {'':>6}" for k in KINDS)
              + f" {np.mean(totals['precision']):>9.4f} {sum(totals['merged_campaigns']):>6} {sum(totals['split_letters']):>5}"
              + f"   opening-150 recall {np.mean(totals['recall_opening150']):.3f}")


if __name__ == "__main__":
    main()
