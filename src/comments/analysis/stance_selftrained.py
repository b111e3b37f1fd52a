"""A classifier each docket trains on the rules' own firm decisions (no labels), for the texts the
rules leave unclear.

Why: on a docket, most commenters who state no verdict still argue like one side ("American
workers first", "work for food stamps"); rules written for every docket cannot know which
arguments are whose, and the learned phrases (stance_lexicon) catch only the exact phrases that
recur. The texts the rules decide firmly (an explicit verdict, nothing for the other side) are
examples of each side in this docket's own words: a word and word-pair model trained on them
reads a text that states no verdict and says which side it argues like, and how surely.

Method, per docket:
1. the firm texts, as stance_lexicon defines them (distinct texts, the rules with the learned
   phrases giving a side with confidence >= FIRM_CONFIDENCE and nothing to the other side), at
   most MAX_TRAIN of them (evenly spread through the docket's texts past that);
2. at least MIN_SIDE firm texts on each side, else nothing is trained (nothing to learn from);
3. TF-IDF of word 1- and 2-grams (in at least 2 texts, sublinear), logistic regression with
   balanced class weights, C = 2 (deterministic);
4. a text the rules leave `unclear` with at least MIN_WORDS words takes the side the model gives
   it with probability >= THRESHOLD; its evidence is its verbatim sentence the model finds most
   typical of that side. Everything else keeps the rules' decision.

Measured (tests/stance_eval.py, docs/stance_labeling.md): THRESHOLD and MIN_WORDS were chosen on
the evaluation set's `dev` half (0.85 of 0.75-0.95); held out (batch 6, 165 texts, read once) the
rules' macro-F1 over support and oppose went 0.786 -> 0.857, oppose recall 0.65 -> 0.77. It helps
most where a docket has many firm texts to learn from (ICEB-2015-0002, 22,365 distinct texts:
0.721 -> 0.933) and moves little on small ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from comments.analysis import stance as rules
from comments.analysis.stance_lexicon import is_firm

THRESHOLD = 0.85
MIN_WORDS = 3
MIN_SIDE = 5
MAX_TRAIN = 20_000
MAX_CHARS = 3000  # a long letter's opening states its case; the rest costs time, not accuracy
SENTENCES_FOR_EVIDENCE = 40
SIDES = ("support", "oppose")


@dataclass
class DocketModel:
    vectorizer: object
    classifier: object
    trained_on: dict[str, int]  # firm texts per side

    def sides(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(side, probability) per text."""
        if not texts:
            return []
        proba = self.classifier.predict_proba(self.vectorizer.transform([t[:MAX_CHARS] for t in texts]))
        classes = self.classifier.classes_
        best = proba.argmax(axis=1)
        return [(str(classes[j]), float(proba[i, j])) for i, j in enumerate(best)]

    def evidence(self, texts: Sequence[str], sides: Sequence[str]) -> list[str | None]:
        """Per text, its verbatim sentence the model finds most typical of the side it was given."""
        # (imported here: stance_model loads scikit-learn, which only `train` needs to have loaded)
        from comments.analysis.stance_model import typical_sentences

        classes = list(self.classifier.classes_)
        return typical_sentences(texts, [classes.index(side) for side in sides],
                                 lambda pieces: self.classifier.predict_proba(self.vectorizer.transform(pieces)),
                                 limit=SENTENCES_FOR_EVIDENCE)


def train(texts: Iterable[str], classify: Callable[[str], rules.Stance]) -> DocketModel | None:
    """The docket's model from its distinct texts' firm decisions by `classify` (the rules as the
    analysis runs them); None when a side has fewer than MIN_SIDE firm texts."""
    firm_texts: list[str] = []
    firm_sides: list[str] = []
    seen: set[str] = set()
    for text in texts:
        if not text or text in seen or not text.strip():
            continue
        seen.add(text)
        s = classify(text)
        if is_firm(s):
            firm_texts.append(text[:MAX_CHARS])
            firm_sides.append(s.stance)
    counts = {side: firm_sides.count(side) for side in SIDES}
    if min(counts.values()) < MIN_SIDE:
        return None
    if len(firm_texts) > MAX_TRAIN:
        keep = np.linspace(0, len(firm_texts) - 1, MAX_TRAIN).round().astype(int)
        firm_texts = [firm_texts[k] for k in keep]
        firm_sides = [firm_sides[k] for k in keep]
        counts = {side: firm_sides.count(side) for side in SIDES}
        if min(counts.values()) < MIN_SIDE:
            return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
    matrix = vectorizer.fit_transform(firm_texts)
    classifier = LogisticRegression(C=2.0, class_weight="balanced", max_iter=2000).fit(matrix, firm_sides)
    return DocketModel(vectorizer, classifier, counts)


def fill(model: DocketModel | None, texts: Sequence[str], classify: Callable[[str], rules.Stance]) -> dict[str, rules.Stance]:
    """For each distinct text the rules (`classify`) leave unclear and the model decides surely, its
    new Stance (keyed by the text itself)."""
    if model is None:
        return {}
    candidates = [t for t in dict.fromkeys(texts)
                  if t and classify(t).stance == "unclear" and len(t.split()) >= MIN_WORDS]
    out: dict[str, rules.Stance] = {}
    for start in range(0, len(candidates), 5000):  # bounded memory on a big docket
        chunk = candidates[start:start + 5000]
        sure = [(text, side, p) for text, (side, p) in zip(chunk, model.sides(chunk), strict=True) if p >= THRESHOLD]
        found = model.evidence([t for t, _, _ in sure], [side for _, side, _ in sure])
        for (text, side, p), evidence in zip(sure, found, strict=True):
            r = classify(text)
            out[text] = rules.Stance(side, round(p, 3), evidence, r.support_score, r.oppose_score)
    return out


def describe(model: DocketModel | None, filled: dict[str, rules.Stance]) -> list[str]:
    """One line for the run's notes saying what the docket's model did (nothing when it was not trained)."""
    if model is None:
        return []
    by_side = {side: sum(1 for s in filled.values() if s.stance == side) for side in SIDES}
    return [f"stance: {len(filled)} distinct texts the rules left unclear were decided by a classifier trained on "
            f"this docket's {model.trained_on['support']} firmly support and {model.trained_on['oppose']} firmly "
            f"oppose texts (probability >= {THRESHOLD}): support {by_side['support']}, oppose {by_side['oppose']}"]
