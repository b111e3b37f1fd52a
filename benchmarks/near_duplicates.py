"""Near-duplicate (form-letter) detection: ours vs datasketch MinHashLSH, same data, same run.

    .venv/bin/python benchmarks/near_duplicates.py            # 10,000 and 100,000 comments
    .venv/bin/python benchmarks/near_duplicates.py --million        # and 1,000,000
    .venv/bin/python benchmarks/near_duplicates.py --sizes 1000000 --skip-datasketch

Comments are generated from the real texts bundled with the project
(CMS-2022-0163 and the CMS-2025-0050-0031 bulk CSV):
- templates: real comments of 60+ words that share no passage with each other;
- exact copies of a template (some with the case, whitespace or `&amp;` changed);
- personalised copies edited as DESIGN.md describes real ones: a greeting
  and a signature with a name, own sentences and paragraphs added, sentences
  dropped (the opening kept), paragraphs reordered, truncation, typos and
  words glued together;
- singletons: new text written by a word-bigram model of the real texts.
The generator knows which template each comment came from, so recall and
precision are measured, not guessed.

Rows: `ours` is detect_campaigns as the analysis runs it (groups, similarity
to the template and each member's unique additions); `ours-grouping` is the
same with unique additions switched off, i.e. the same output datasketch
gives (groups only), which is the like-for-like speed comparison.

Each method runs in its own process on the same pickled comments, so peak
memory (ru_maxrss, less the memory of the loaded comments) is its own.
`ours` runs its numpy hashing and exact check on 2 threads (the machine has
2 cores); datasketch is single-threaded. `cpu s` counts every thread, so the
CPU-time ratio is the single-core comparison and the wall-clock ratio the
2-core one. On a shared, loaded machine wall clock is noisy: `--repeat N`
runs every method N times (alternating) and keeps each method's fastest run.
datasketch gets the same exact-copy step first (MinHash only unique
normalized texts), 64 permutations (shared, not regenerated per text),
word 5-shingles, `update_batch`, LeanMinHash, threshold 0.8, and its
candidates are joined by union-find: the usual, efficient way to use it.

Metrics:
- recall (exact / near): share of the copies of a template that end up in the
  same group as the template's original comment;
- precision: share of comments placed in a group whose template (majority
  label) they really come from (a singleton glued into a group is an error);
- pairwise precision and recall over all pairs of comments grouped together.
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from comments.analysis.campaigns import CampaignParams, Doc, detect_campaigns  # noqa: E402
from comments.analysis.normalize import key_of_normalized, normalize  # noqa: E402

FIRST_NAMES = ["Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Maria", "James",
               "Susan", "Carlos", "Karen", "Wei", "Aisha", "Thomas", "Nancy", "Daniel", "Lisa", "Ahmed"]
LAST_NAMES = ["Smith", "Johnson", "Garcia", "Brown", "Nguyen", "Miller", "Davis", "Lopez", "Wilson", "Khan",
              "Taylor", "Anderson", "Martin", "Lee", "Clark", "Walker", "Hall", "Young", "King", "Wright"]
GREETINGS = ["Dear Administrator,", "To whom it may concern:", "Dear CMS officials,", "Hello,",
             "Dear Secretary,", "Dear Sir or Madam,"]


# ---------------------------------------------------------------- real texts


def real_texts() -> list[str]:
    from comments.records import comment_row
    from comments.resources import bundled_mirrulations
    from comments.textutil import html_to_text

    out = []
    for path in sorted(bundled_mirrulations().glob("raw-data/**/comments/*.json")):
        text = comment_row(json.loads(path.read_text(encoding="utf-8")))["text"]
        if text:
            out.append(text)
    csv.field_size_limit(10**8)
    with open(ROOT / "tests/data/CMS-2025-0050-0031.bulk.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            text = html_to_text(row.get("Comment"))
            if text:
                out.append(text)
    return out


def _shingles(text: str, k: int = 8) -> set[str]:
    words = normalize(text).split()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def distinct_templates(texts: list[str], min_words: int = 60) -> list[str]:
    """Real texts of min_words+ words, no two sharing an 8-word passage (so labels are true)."""
    seen: set[str] = set()
    out = []
    for text in sorted(set(texts), key=lambda t: (-len(t), t)):
        if len(normalize(text).split()) < min_words:
            continue
        sh = _shingles(text)
        if len(sh & seen) > 2:
            continue
        seen |= sh
        out.append(text)
    return out


class Bigrams:
    """Word-bigram model of the real texts: new text with real vocabulary and no long shared runs."""

    def __init__(self, texts: list[str], seed: int) -> None:
        words = [w for t in texts for w in re.findall(r"[A-Za-z][A-Za-z'’-]*|[.,;]", t)]
        vocab = sorted(set(words))
        index = {w: i for i, w in enumerate(vocab)}
        ids = np.array([index[w] for w in words], dtype=np.int64)
        pairs = np.unique(np.stack([ids[:-1], ids[1:]]), axis=1)  # distinct successors: more variety
        self.vocab = np.array(vocab, dtype=object)
        self.succ = pairs[1]
        self.indptr = np.searchsorted(pairs[0], np.arange(len(vocab) + 1))
        self.rng = np.random.default_rng(seed)

    def texts(self, count: int, min_words: int = 40, max_words: int = 300) -> list[str]:
        if count == 0:
            return []
        lengths = self.rng.integers(min_words, max_words, size=count)
        cur = self.rng.integers(0, len(self.vocab), size=count)
        steps = [cur]
        for _ in range(int(lengths.max()) - 1):
            deg = self.indptr[cur + 1] - self.indptr[cur]
            pick = self.indptr[cur] + (self.rng.random(count) * np.maximum(deg, 1)).astype(np.int64)
            nxt = np.where(deg > 0, self.succ[np.minimum(pick, len(self.succ) - 1)], self.rng.integers(0, len(self.vocab), size=count))
            steps.append(nxt)
            cur = nxt
        grid = np.stack(steps, axis=1)
        out = []
        for row, n in zip(grid, lengths, strict=True):
            text = " ".join(self.vocab[row[:n]].tolist()).replace(" .", ".").replace(" ,", ",").replace(" ;", ";")
            out.append(text[:1].upper() + text[1:] + ".")
        return out


# ---------------------------------------------------------------- edits


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _typos(text: str, rng: random.Random, rate: float) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        r = rng.random()
        if r < rate and len(w) > 3:
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
        elif r < rate * 1.3 and i + 1 < len(words):
            words[i] = w + "\x00"  # glue to the next word
    return " ".join(words).replace("\x00 ", "")


def personalise(template: str, rng: random.Random, own: list[str]) -> str:
    """A copy edited the way real senders edit form letters."""
    paragraphs = [p for p in template.split("\n\n") if p.strip()]
    sents = [s for p in paragraphs for s in _sentences(p)]
    if len(sents) > 3 and rng.random() < 0.35:  # keep the opening, drop some reasons
        keep = [sents[0]] + [s for s in sents[1:] if rng.random() > 0.3]
        sents = keep
    if len(sents) > 4 and rng.random() < 0.2:  # reorder a block
        a = rng.randrange(1, len(sents) - 2)
        b = rng.randrange(a + 1, len(sents))
        sents = sents[:a] + sents[b:] + sents[a:b]
    if len(sents) > 4 and rng.random() < 0.15:  # truncate
        sents = sents[: max(3, int(len(sents) * rng.uniform(0.6, 0.9)))]
    body = " ".join(sents)
    if rng.random() < 0.5:
        body = _typos(body, rng, 0.015)
    parts = []
    if rng.random() < 0.5:
        parts.append(rng.choice(GREETINGS))
    if rng.random() < 0.45 and own:  # their own paragraph, before or after
        mine = own.pop()
        parts.extend([mine, body] if rng.random() < 0.5 else [body, mine])
    else:
        parts.append(body)
    if rng.random() < 0.6:
        parts.append(f"Sincerely,\n{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")
    return "\n\n".join(parts)


def trivially_varied(template: str, rng: random.Random) -> str:
    """An exact copy after normalization: case, spacing or `&amp;` changed."""
    r = rng.random()
    if r < 0.1:
        return template.replace("&", "&amp;")
    if r < 0.2:
        return template.upper()
    if r < 0.3:
        return "  " + template.replace(". ", ".  ") + "\n"
    return template


def generate(n: int, seed: int = 7):
    """(docs, label per doc: template index or -1 for a singleton, kind per doc)."""
    rng = random.Random(seed)
    texts = real_texts()
    templates = distinct_templates(texts)
    n_templates = min(len(templates), max(10, n // 300))
    rng.shuffle(templates)
    templates = templates[:n_templates]
    n_exact = int(n * 0.5)
    n_near = int(n * 0.3)
    n_single = n - n_exact - n_near - n_templates
    bigrams = Bigrams(texts, seed)
    own = bigrams.texts(n_near, 15, 60)  # paragraphs senders add
    singles = bigrams.texts(n_single, 40, 300)
    # campaign sizes: a few big, many small (Zipf-like)
    weights = np.array([1 / (i + 1) for i in range(n_templates)])
    weights /= weights.sum()
    np_rng = np.random.default_rng(seed)
    exact_of = np_rng.choice(n_templates, size=n_exact, p=weights)
    near_of = np_rng.choice(n_templates, size=n_near, p=weights)
    rows = [(t, i, "template") for i, t in enumerate(templates)]
    rows += [(trivially_varied(templates[i], rng), int(i), "exact") for i in exact_of]
    rows += [(personalise(templates[i], rng, own), int(i), "near") for i in near_of]
    rows += [(t, -1, "single") for t in singles]
    rng.shuffle(rows)
    docs = [Doc(f"GEN-{k:07d}", text) for k, (text, _, _) in enumerate(rows)]
    labels = np.array([label for _, label, _ in rows], dtype=np.int64)
    kinds = [kind for _, _, kind in rows]
    return docs, labels, kinds


# ---------------------------------------------------------------- methods


def run_ours(docs: list[Doc], with_additions: bool = True) -> np.ndarray:
    """Group id per doc (-1 = not grouped) from detect_campaigns."""
    index = {d.comment_id: i for i, d in enumerate(docs)}
    group = np.full(len(docs), -1, dtype=np.int64)
    for g, campaign in enumerate(detect_campaigns(docs, CampaignParams(with_additions=with_additions))):
        for m in campaign.members:
            group[index[m.comment_id]] = g
    return group


def run_datasketch(docs: list[Doc], shingle: int = 5, perms: int = 64, threshold: float = 0.8) -> np.ndarray:
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=perms)
    first = MinHash(num_perm=perms, seed=1)
    permutations, scheme = first.permutations, first.scheme  # shared: no per-text set-up
    # the same exact-copy step as ours: identical raw texts once, then normalized keys
    keys: dict[str, int] = {}
    key_of_raw: dict[str, int] = {}
    hashes: list[LeanMinHash] = []
    text_of_doc = np.empty(len(docs), dtype=np.int64)
    for i, d in enumerate(docs):
        u = key_of_raw.get(d.text)
        if u is None:
            norm = normalize(d.text)
            k = key_of_normalized(norm)
            if k not in keys:
                keys[k] = len(hashes)
                words = norm.split()
                grams = {" ".join(words[j : j + shingle]).encode() for j in range(max(1, len(words) - shingle + 1))}
                m = MinHash(num_perm=perms, seed=1, permutations=permutations, scheme=scheme)
                m.update_batch(list(grams))
                lean = LeanMinHash(m)
                lsh.insert(keys[k], lean)
                hashes.append(lean)
            u = key_of_raw[d.text] = keys[k]
        text_of_doc[i] = u
    parent = list(range(len(hashes)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, m in enumerate(hashes):
        for v in lsh.query(m):
            if v != u:
                parent[find(u)] = find(v)
    roots = np.array([find(u) for u in range(len(hashes))])
    root_of_doc = roots[text_of_doc]
    sizes = Counter(root_of_doc.tolist())
    return np.array([r if sizes[r] >= 2 else -1 for r in root_of_doc.tolist()], dtype=np.int64)


# ---------------------------------------------------------------- scoring


def score(group: np.ndarray, labels: np.ndarray, kinds: list[str]) -> dict:
    kinds_arr = np.array(kinds)
    template_doc = {int(labels[i]): i for i in np.flatnonzero(kinds_arr == "template")}
    same = np.array([group[i] >= 0 and labels[i] >= 0 and group[i] == group[template_doc[int(labels[i])]]
                     for i in range(len(labels))])
    out = {}
    for kind in ("exact", "near"):
        mask = kinds_arr == kind
        out[f"recall_{kind}"] = float(same[mask].mean()) if mask.any() else None
    copies = (kinds_arr == "exact") | (kinds_arr == "near")
    out["recall_all"] = float(same[copies].mean())
    # precision: grouped docs whose label is their group's majority label (singletons unique labels)
    unique_label = np.where(labels >= 0, labels, -(np.arange(len(labels)) + 2))
    grouped = np.flatnonzero(group >= 0)
    majority = {}
    by_group = defaultdict(Counter)
    for i in grouped.tolist():
        by_group[int(group[i])][int(unique_label[i])] += 1
    for g, counter in by_group.items():
        majority[g] = counter.most_common(1)[0][0]
    correct = sum(unique_label[i] == majority[int(group[i])] for i in grouped.tolist())
    out["precision"] = correct / len(grouped) if len(grouped) else 1.0
    # pairwise
    pred = np.where(group >= 0, group, -(np.arange(len(group)) + 2))
    joint = Counter(zip(pred.tolist(), unique_label.tolist(), strict=True))
    tp = sum(c * (c - 1) // 2 for c in joint.values())
    pp = sum(c * (c - 1) // 2 for c in Counter(pred.tolist()).values())
    tt = sum(c * (c - 1) // 2 for c in Counter(unique_label.tolist()).values())
    out["pair_precision"] = tp / pp if pp else 1.0
    out["pair_recall"] = tp / tt if tt else 1.0
    out["groups"] = len(by_group)
    return out


# ---------------------------------------------------------------- driver


def worker(method: str, data_path: str) -> None:
    with open(data_path, "rb") as f:
        docs, labels, kinds = pickle.load(f)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    if method == "ours":
        group = run_ours(docs)
    elif method == "ours-grouping":
        group = run_ours(docs, with_additions=False)
    else:
        group = run_datasketch(docs)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"method": method, "seconds": seconds, "cpu_seconds": cpu, "docs_per_s": len(docs) / seconds,
              "peak_rss_mb": peak / 1024, "extra_rss_mb": (peak - base) / 1024}
    result.update(score(group, labels, kinds))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 comments")
    parser.add_argument("--skip-datasketch", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method; the fastest (wall clock) is kept")
    parser.add_argument("--worker", choices=["ours", "ours-grouping", "datasketch"])
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    for n in args.sizes + ([1_000_000] if args.million else []):
        t = time.perf_counter()
        docs, labels, kinds = generate(n)
        c = Counter(kinds)
        print(f"\n== {n:,} comments: {c['template']} templates, {c['exact']:,} exact copies, "
              f"{c['near']:,} personalised copies, {c['single']:,} singletons "
              f"({len({normalize(d.text) for d in docs}):,} unique texts; generated in {time.perf_counter() - t:.0f} s)",
              flush=True)
        with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as f:
            pickle.dump((docs, labels, kinds), f)
            path = f.name
        results = {}
        print(f"{'method':<14} {'time s':>8} {'cpu s':>7} {'docs/s':>9} {'+RSS MB':>8} {'recall':>7} {'exact':>6} "
              f"{'near':>6} {'prec':>6} {'pairP':>6} {'pairR':>6} {'groups':>7}", flush=True)
        methods = ["ours", "ours-grouping"] + ([] if args.skip_datasketch else ["datasketch"])
        for _ in range(args.repeat):
            for method in methods:
                proc = subprocess.run([sys.executable, __file__, "--worker", method, "--data", path],
                                      capture_output=True, text=True, check=True)
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                if method not in results or r["seconds"] < results[method]["seconds"]:
                    results[method] = r
        for method in methods:
            r = results[method]
            print(f"{r['method']:<14} {r['seconds']:>8.2f} {r['cpu_seconds']:>7.2f} {r['docs_per_s']:>9,.0f} "
                  f"{r['extra_rss_mb']:>8.0f} {r['recall_all']:>7.3f} {r['recall_exact']:>6.3f} "
                  f"{r['recall_near']:>6.3f} {r['precision']:>6.3f} {r['pair_precision']:>6.3f} "
                  f"{r['pair_recall']:>6.3f} {r['groups']:>7,}", flush=True)
        Path(path).unlink()
        if "datasketch" in results:
            for ours in ("ours", "ours-grouping"):
                speed = results["datasketch"]["seconds"] / results[ours]["seconds"]
                cpu = results["datasketch"]["cpu_seconds"] / results[ours]["cpu_seconds"]
                print(f"{ours} is {speed:.1f}x faster than datasketch MinHashLSH (wall clock; {cpu:.1f}x in CPU time)",
                      flush=True)


if __name__ == "__main__":
    main()
