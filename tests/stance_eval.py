"""Load the hand-labeled stance set with its texts and score a classifier on it.

Shared by tests/test_stance.py and `python tests/stance_eval.py` (prints the table).
Splits: batches 1-5 are split by a hash of the comment id into `dev` and `test` (rounds 1-4 of
the rules looked only at `dev` errors; round 5 also looked at `test` errors; round 6 also at batch
5's); batch 6, `fresh`, was drawn and labeled blind before round 6 and no error on it was looked at
while changing the rules.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from pathlib import Path

from comments.textutil import html_to_text

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "data" / "stance_eval.jsonl"
MIRR = ROOT / "src/comments/data/mirrulations/raw-data/CMS/CMS-2022-0163/text-CMS-2022-0163/comments"
BULK = ROOT / "tests" / "data" / "CMS-2025-0050-0031.bulk.csv"
CLASSES = ("support", "oppose", "mixed", "unclear")
# The dockets whose texts ship with the repository (every run can score them).
BUNDLED_DOCKETS = ("CMS-2022-0163", "CMS-2025-0050")
# Labeled dockets whose texts are NOT in the repository (taken from public repositories, whose
# files this project does not redistribute: docs/stance_labeling.md says where they are): read from
# `<dir>/<DOCKET>.comments.csv` (columns `Document ID`, `Comment`) in $STANCE_EVAL_DATA, or in
# the shared data folder beside the checkout. Missing: those items are left out, and said so.
EXTERNAL_DOCKETS = ("USDA-2017-0002", "ICEB-2015-0002")


def external_dirs() -> list[Path]:
    dirs = [Path(d) for d in os.environ.get("STANCE_EVAL_DATA", "").split(os.pathsep) if d]
    return dirs + [ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data"]


def external_file(docket: str, part: str = "comments") -> Path | None:
    """`<DOCKET>.comments.csv` (the labeled texts) or, with part="all", `<DOCKET>.all.csv`."""
    for d in external_dirs():
        f = d / f"{docket}.{part}.csv"
        if f.is_file():
            return f
    return None


# Batch 6: drawn (a SHA-256 order of the ids, texts not yet in the set) and labeled blind before
# round 6 of the rules; held out from every change since. (Batch 5 was the same before round 5.)
FRESH_BATCH = 6


def split_of(comment_id: str, batch: int | None = None) -> str:
    if batch == FRESH_BATCH:
        return "fresh"
    return "dev" if int(hashlib.sha1(comment_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def load_items() -> list[dict]:
    texts = {}
    for f in glob.glob(str(MIRR / "*.json")):
        d = json.loads(Path(f).read_text(encoding="utf-8"))
        texts[d["data"]["id"]] = html_to_text(d["data"]["attributes"].get("comment")) or ""
    with open(BULK, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts[row["Document ID"]] = (row.get("Comment") or "").strip()
    for docket in EXTERNAL_DOCKETS:
        for f in (external_file(docket), external_file(docket, "all")):
            if f is not None:
                csv.field_size_limit(1 << 27)
                with open(f, encoding="utf-8", newline="") as fh:
                    for row in csv.DictReader(fh):
                        texts.setdefault(row["Document ID"], html_to_text(row.get("Comment")) or "")
    items = []
    for line in EVAL.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item["docket"] not in BUNDLED_DOCKETS and item["comment_id"] not in texts:
                continue  # an external docket whose texts are not here
            item["text"] = texts[item["comment_id"]]
            item["split"] = split_of(item["comment_id"], item.get("batch"))
            items.append(item)
    return items


def metrics(pairs: list[tuple[str, str]]) -> dict:
    """Per-class precision/recall/F1 and accuracy from (gold, predicted) pairs."""
    out = {}
    for c in CLASSES:
        tp = sum(1 for g, p in pairs if g == c and p == c)
        fp = sum(1 for g, p in pairs if g != c and p == c)
        fn = sum(1 for g, p in pairs if g == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[c] = {"precision": prec, "recall": rec, "f1": f1, "n": tp + fn, "predicted": tp + fp}
    out["accuracy"] = sum(1 for g, p in pairs if g == p) / len(pairs) if pairs else 0.0
    out["n"] = len(pairs)
    # the yardstick: mean F1 of the two sides (support, oppose)
    out["macro_f1_support_oppose"] = (out["support"]["f1"] + out["oppose"]["f1"]) / 2
    return out


def docket_texts(docket: str) -> list[str]:
    """Every text of a docket we hold (labeled or not): what the analysis learns a docket's cues from."""
    if docket == "CMS-2022-0163":
        return [html_to_text(json.loads(Path(f).read_text(encoding="utf-8"))["data"]["attributes"].get("comment")) or ""
                for f in sorted(glob.glob(str(MIRR / "*.json")))]
    if docket == "CMS-2025-0050":
        with open(BULK, encoding="utf-8", newline="") as fh:
            return [(row.get("Comment") or "").strip() for row in csv.DictReader(fh)]
    # an external docket: its whole text file when there is one (`<DOCKET>.all.csv`), else the sample
    for name in (f"{docket}.all.csv", f"{docket}.comments.csv"):
        for d in external_dirs():
            if (d / name).is_file():
                csv.field_size_limit(1 << 27)
                with open(d / name, encoding="utf-8", newline="") as fh:
                    return [html_to_text(row.get("Comment")) or "" for row in csv.DictReader(fh)]
    return []


# The dockets' titles as regulations.gov gives them (the analysis reads them from `dockets`).
TITLES = {
    "CMS-2022-0163": "Request for Information; National Directory of Healthcare Providers & Services",
    "CMS-2025-0050": "Request for Information: Health Technology Ecosystem",
    # (the SNAP comments were filed from the ABAWD notice, whose title their footer repeats)
    "USDA-2017-0002": "Identifying Regulatory Reform Initiatives\nSupplemental Nutrition Assistance Program: "
                      "Requirements and Services for Able-Bodied Adults Without Dependents",
    "ICEB-2015-0002": "Improving and Expanding Training Opportunities for F-1 Nonimmigrant Students with STEM "
                      "Degrees; Cap-Gap Relief for All F-1 Students With Pending H-1B Petitions and Change of "
                      "Status Requests",
}
_LEARNED: dict[str, dict] = {}


def learned_cues(docket: str) -> dict:
    """The cue phrases the analysis learns from the docket's own texts (`stance_lexicon.learn`), cached."""
    from comments.analysis.stance_lexicon import learn

    if docket not in _LEARNED:
        _LEARNED[docket] = learn(docket_texts(docket), title=TITLES.get(docket, ""))
    return _LEARNED[docket]


_MODELS: dict[str, object] = {}


def docket_model(docket: str, classify):
    """The classifier the analysis trains on the docket's firmly decided texts (`stance_selftrained`), cached."""
    from comments.analysis import stance_selftrained

    if docket not in _MODELS:
        cues = learned_cues(docket)
        _MODELS[docket] = stance_selftrained.train(docket_texts(docket), lambda t: classify(t, extra_cues=cues))
    return _MODELS[docket]


def evaluate(classify, items=None, *, learned: bool = True) -> dict:
    """Figures of `classify` on the labeled items; `learned`: as the analysis runs the rules, with
    each docket's learned cues (`classify(text, extra_cues=...)`) and, for the texts they leave
    unclear, the classifier trained on the docket's firmly decided texts (`stance_selftrained`)."""
    from comments.analysis import stance_selftrained

    items = items if items is not None else load_items()
    cues = {d: learned_cues(d) for d in {i["docket"] for i in items}} if learned else {}
    read = {id(i): classify(i["text"], extra_cues=cues[i["docket"]]) if learned else classify(i["text"])
            for i in items}
    got = {k: s.stance for k, s in read.items()}
    if learned:
        for d in cues:
            ours = [i for i in items if i["docket"] == d]
            by_rules = {i["text"]: read[id(i)] for i in ours}
            filled = stance_selftrained.fill(docket_model(d, classify), list(by_rules), by_rules.__getitem__)
            for i in ours:
                if i["text"] in filled:
                    got[id(i)] = filled[i["text"]].stance
    result = {}
    for name, subset in (("dev", [i for i in items if i["split"] == "dev"]),
                         ("test", [i for i in items if i["split"] == "test"]),
                         ("fresh", [i for i in items if i["split"] == "fresh"]),
                         ("all", items)):
        result[name] = metrics([(i["label"], got[id(i)]) for i in subset])
    result["by_docket"] = {
        d: {split: metrics([(i["label"], got[id(i)]) for i in items
                            if i["docket"] == d and (split == "all" or i["split"] == split)])
            for split in ("test", "fresh", "all")}
        for d in sorted({i["docket"] for i in items})
    }
    return result


# The figures the briefing's caveats cite (comments.briefing.data.STANCE_EVAL);
# `python tests/stance_eval.py --write` refreshes it, tests/test_stance.py checks it is current.
ACCURACY_FILE = ROOT / "src" / "comments" / "analysis" / "stance_eval.json"


def accuracy_record(result: dict) -> dict:
    """What the package ships: the held-out and overall figures, rounded, with where they come from."""
    def rounded(m: dict) -> dict:
        out = {"n": m["n"], "accuracy": round(m["accuracy"], 3),
               "macro_f1_support_oppose": round(m["macro_f1_support_oppose"], 3)}
        for c in CLASSES:
            out[c] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m[c].items()}
        return out

    return {
        "labeled_set": "tests/data/stance_eval.jsonl (hand-labeled; method in docs/stance_labeling.md)",
        "method": "rules with the cue phrases each docket teaches (stance_lexicon) and, for texts they leave unclear, the classifier trained on its firmly decided texts (stance_selftrained), as the analysis runs them",
        "dockets": sorted(result["by_docket"]),
        "split": "test = batch 6, drawn and labeled blind before round 6 of the rules, no error on it looked at since",
        "test": rounded(result["fresh"]),
        "all": rounded(result["all"]),
        "by_docket": {d: {k: rounded(v) for k, v in splits.items()} for d, splits in result["by_docket"].items()},
    }


if __name__ == "__main__":
    import sys

    from comments.analysis.stance import classify

    items = load_items()
    res = evaluate(classify, items, learned="--no-learned" not in sys.argv)
    if "--write" in sys.argv:
        ACCURACY_FILE.write_text(json.dumps(accuracy_record(res), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {ACCURACY_FILE}")
    for name in ("dev", "test", "fresh", "all"):
        m = res[name]
        print(f"{name}: n={m['n']} accuracy={m['accuracy']:.3f} macro-F1(support, oppose)={m['macro_f1_support_oppose']:.3f}")
        for c in CLASSES:
            x = m[c]
            print(f"  {c:8s} n={x['n']:3d} pred={x['predicted']:3d} P={x['precision']:.3f} R={x['recall']:.3f} F1={x['f1']:.3f}")
    for d, splits in res["by_docket"].items():
        for split, m in splits.items():
            print(f"{d} {split}: n={m['n']} accuracy={m['accuracy']:.3f} macro-F1={m['macro_f1_support_oppose']:.3f} "
                  f"support P/R={m['support']['precision']:.2f}/{m['support']['recall']:.2f} "
                  f"oppose P/R={m['oppose']['precision']:.2f}/{m['oppose']['recall']:.2f}")
    if "--cues" in sys.argv:
        for d in sorted({i["docket"] for i in items}):
            print(d, learned_cues(d))
    if "-v" in sys.argv:
        for i in items:
            s = classify(i["text"], extra_cues=learned_cues(i["docket"]) if "--no-learned" not in sys.argv else None)
            if s.stance != i["label"] and (i["split"] == "dev" or "--all" in sys.argv):
                print(i["split"], i["comment_id"], "gold", i["label"], "got", s.stance, s.confidence, "|", (s.evidence or "")[:120], "|", i["rationale"])
