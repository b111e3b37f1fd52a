"""A per-docket stance model trained on the analyst's labels, with a measured accuracy.

Why per docket: what "support" means depends on the proposal (on a docket that
rolls a rule back, "reinstate" is opposition), and a model trained on one
docket and tested on another scored 0.29 to 0.48 in our trials, while ~50
labels on the same docket scored about 0.84. So `comments analyze` trains
one model per docket once the analyst has labeled `MIN_LABELS` texts, and
says how accurate it measured on that docket.

Features: word 1-2-grams and character 3-5-grams (TF-IDF, sublinear, n-grams of at least two
texts), plus
the rule cues (`stance.classify`: support and oppose weights, the rules'
decision) so a few labels refine the rules rather than start from nothing.
Classifier: multinomial logistic regression with balanced class weights.
Everything is deterministic (no random state is drawn).

Accuracy: cross-validation grouped by campaign (`StratifiedGroupKFold`, no
shuffling): every copy of one letter (one campaign, or one exact text) is in
the same fold, so a letter is never both trained on and tested on. The
accuracy is pooled over the folds (held-out texts predicted correctly / all
labeled texts); the spread is the standard deviation of the fold accuracies.
The rules are scored on the same labels (they learn nothing from them), so
the analysis can keep whichever measured better.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from comments.analysis import stance as rules

MIN_LABELS = 30    # fewer labeled texts than this: rules only (a model would be guessing)
FOLDS = 5
C = 2.0            # inverse regularization; chosen by grouped CV on the evaluation set's CMS-2025-0050 and USDA-2017-0002 labels, not on the bundled docket
HEAD_CHARS = 4000  # a text's features come from its start and end (long letters state their position there)
TAIL_CHARS = 1500
SENTENCES_FOR_EVIDENCE = 30


def clip(text: str) -> str:
    text = text or ""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def own_cues(extra_cues: Mapping[str, Sequence[str]] | None) -> dict | None:
    """The analyst's cue phrases without those learned from the docket (`stance_lexicon`)."""
    own = {k: v for k, v in (extra_cues or {}).items() if not k.startswith("learned_")}
    return own or None


class RuleCues(BaseEstimator, TransformerMixin):
    """The rules' view of each text as features: support and oppose weights and their decision.

    The rules here are without the phrases learned from the docket (`own_cues`): on the proxy
    sets (docs/stance_labeling.md) the two scored the same within noise (summed grouped-CV
    accuracy 3.363 without, 3.353 with), and the learned phrases are already the docket's own
    words, which the n-gram features see.
    """

    def __init__(self, extra_cues: Mapping[str, Sequence[str]] | None = None):
        self.extra_cues = extra_cues

    def fit(self, texts, y=None):
        return self

    def transform(self, texts):
        rows = []
        for t in texts:
            s = rules.classify(t, extra_cues=own_cues(self.extra_cues))
            rows.append([np.log1p(s.support_score), np.log1p(s.oppose_score)]
                        + [1.0 if s.stance == c else 0.0 for c in rules.STANCES])
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), 2 + len(rules.STANCES)))


def build(extra_cues: Mapping[str, Sequence[str]] | None = None) -> Pipeline:
    """The untrained model (the same recipe for cross-validation and for the final fit)."""
    features = FeatureUnion([
        # n-grams of at least two training texts: one text's own n-grams cannot generalize, and
        # dropping them makes the fit several times faster
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True,
                                  lowercase=True, max_features=200_000)),
        ("rules", RuleCues(extra_cues)),
    ])
    return Pipeline([
        ("features", features),
        # newton-cg: the same convex objective as the default lbfgs, ~5x faster on these wide,
        # short problems (lbfgs spent seconds per fit in its bound-handling routine)
        ("classify", LogisticRegression(C=C, class_weight="balanced", max_iter=5000, solver="newton-cg")),
    ])


@dataclass
class Evaluation:
    """Grouped cross-validated accuracy of the model, and of the rules on the same labels."""

    n_labels: int
    accuracy: float | None        # pooled over the folds; None when it could not be measured
    accuracy_sd: float | None     # spread of the fold accuracies
    folds: int
    rules_accuracy: float | None  # the rules' agreement with the same labels
    classes: dict[str, int] = field(default_factory=dict)
    fold_accuracies: list[float] = field(default_factory=list)


class _Constant:
    """What a training fold with a single class predicts: that class."""

    def __init__(self, label: str):
        self.classes_ = np.array([label])

    def predict(self, texts):
        return np.array([self.classes_[0]] * len(texts))


def _fit(texts: Sequence[str], labels: Sequence[str], extra_cues=None):
    if len(set(labels)) < 2:
        return _Constant(labels[0])
    return build(extra_cues).fit([clip(t) for t in texts], list(labels))


def evaluate(texts: Sequence[str], labels: Sequence[str], groups: Sequence[str], *,
             extra_cues: Mapping[str, Sequence[str]] | None = None, folds: int = FOLDS) -> Evaluation:
    """Cross-validate the model with copies of one letter kept in one fold (`groups`: campaign or text)."""
    labels = list(labels)
    n = len(labels)
    classes = {c: labels.count(c) for c in sorted(set(labels))}
    rule_hits = sum(1 for t, y in zip(texts, labels, strict=True) if rules.classify(t, extra_cues=extra_cues).stance == y)
    rules_accuracy = rule_hits / n if n else None
    k = min(folds, len(set(groups)))
    if k < 2:
        return Evaluation(n, None, None, 0, rules_accuracy, classes)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=False)
    # StratifiedGroupKFold warns when a class has fewer members than folds: expected on small label sets.
    import warnings

    correct = 0
    per_fold = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(np.zeros(n), labels, groups))
    for train, test in splits:
        model = _fit([texts[i] for i in train], [labels[i] for i in train], extra_cues)
        predicted = model.predict([clip(texts[i]) for i in test])
        hits = int(sum(1 for i, p in zip(test, predicted, strict=True) if labels[i] == p))
        correct += hits
        per_fold.append(hits / len(test))
    sd = float(np.std(per_fold, ddof=1)) if len(per_fold) > 1 else 0.0
    return Evaluation(n, correct / n, sd, len(per_fold), rules_accuracy, classes, per_fold)


class StanceModel:
    """A model trained on all of a docket's labels, predicting the rest of its texts."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str], *,
                 extra_cues: Mapping[str, Sequence[str]] | None = None):
        self.extra_cues = extra_cues
        self.model = _fit(list(texts), list(labels), extra_cues)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(stance, probability) per text."""
        if not texts:
            return []
        clipped = [clip(t) for t in texts]
        if isinstance(self.model, _Constant):
            return [(str(self.model.classes_[0]), 1.0)] * len(texts)
        proba = self.model.predict_proba(clipped)
        classes = self.model.classes_
        best = proba.argmax(axis=1)
        return [(str(classes[j]), float(proba[i, j])) for i, j in enumerate(best)]

    def evidence(self, texts: Sequence[str], stances: Sequence[str]) -> list[str | None]:
        """Per text, the verbatim sentence the model finds most typical of the stance it gave.

        Only the first SENTENCES_FOR_EVIDENCE sentences are weighed (bounded
        cost); `unclear` has no evidence.
        """
        if isinstance(self.model, _Constant):
            return [None] * len(texts)
        classes = list(self.model.classes_)
        columns = [classes.index(s) if s in classes and s != "unclear" else None for s in stances]
        return typical_sentences(texts, columns, self.model.predict_proba)


def typical_sentences(texts: Sequence[str], columns: Sequence[int | None], predict_proba,
                      limit: int = SENTENCES_FOR_EVIDENCE) -> list[str | None]:
    """Per text, its verbatim sentence (at most 400 characters of it; of its first `limit`) that
    `predict_proba` scores highest in the text's column (None for a column None or no sentence).
    Shared by the label-trained model and the docket's self-trained classifier (stance_selftrained)."""
    pieces, owners, cols = [], [], []
    for i, (text, c) in enumerate(zip(texts, columns, strict=True)):
        if c is None:
            continue
        for start, end in rules.sentence_spans(text)[:limit]:
            pieces.append(text[start:min(end, start + 400)])
            owners.append(i)
            cols.append(c)
    out: list[str | None] = [None] * len(texts)
    if not pieces:
        return out
    proba = predict_proba(pieces)
    best: dict[int, float] = {}
    for k, (i, c) in enumerate(zip(owners, cols, strict=True)):
        p = float(proba[k, c])
        if i not in best or p > best[i]:
            best[i] = p
            out[i] = pieces[k]
    return out


def label_groups(keys: Iterable[tuple[str | None, str]]) -> list[str]:
    """The cross-validation group of each labeled text: its campaign, else its own text hash."""
    return [f"campaign:{campaign}" if campaign else f"text:{text_hash}" for campaign, text_hash in keys]
