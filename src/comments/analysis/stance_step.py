"""The analysis's stance step: analyst labels, then a per-docket model or the rules, then `not read`.

For each distinct text of the docket, in this order:
1. a text the analyst labeled (`analyst_labels`, resolved by normalized text,
   so a label applies to every copy of that text) keeps its label;
2. with at least `stance_model.MIN_LABELS` labeled texts, a model trained on
   them labels the rest, unless it measured worse than the rules on the same
   labels (grouped cross-validation); otherwise the rules decide;
3. a comment whose substance is in attachments that were not read
   (`comment_bodies.not_read`) is `not read`; so is one whose box text takes
   no side while its attachments are unread (the position is likely in them).
Campaign copies take their template's stance unless their own added sentences
say otherwise (`stance.inherit`, rules on the additions).

Check labels (`purpose` = 'check': a random, blind sample, `comments label sample --check`)
are never trained on: the method chosen in 2 is scored on them (and the rules alongside), an
estimate over the docket's read texts with its 95% Wilson interval, where the cross-validated
figure is measured on the training sample. Their texts then keep the analyst's label, as in 1.

How it was decided is one `stance_models` row per run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from comments.analysis import stance as rules
from comments.records import now_utc

NOT_READ_STANCE = rules.Stance(rules.NOT_READ, 0.0, None)


@dataclass
class StanceResult:
    columns: dict[str, pa.Array]                 # stance, stance_confidence, stance_evidence, stance_source per comment
    template_stance: dict[str, rules.Stance]     # campaign id -> the campaign's stance
    model_row: dict                              # the stance_models row of this run
    notes: list[str] = field(default_factory=list)


def _labels(con, docket_id: str) -> list[tuple[str, str, str]]:
    """(comment_id, stance, purpose) of the docket's analyst labels, oldest first (a later label of a
    text wins)."""
    return con.execute(
        """select comment_id, stance, coalesce(purpose, 'train') from analyst_labels where docket_id = ?
           order by labeled_at, comment_id""",
        [docket_id],
    ).fetchall()


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound at small n and near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def decide(
    con, docket_id: str, run_id: str, *,
    ids: Sequence[str], bodies: Sequence[str], body_no: np.ndarray, hashes: Sequence[str],
    not_read: np.ndarray, unread_attachments: np.ndarray,
    campaigns: Sequence, campaign_ids: Mapping, members_at: Sequence[np.ndarray], in_campaign: np.ndarray,
    rules_of_text: Callable[[str], rules.Stance],
    extra_cues: Mapping[str, Sequence[str]] | None = None,
) -> StanceResult:
    n = len(ids)
    row_of = {cid: i for i, cid in enumerate(ids)} if n else {}
    campaign_of_row: dict[int, str] = {}
    template_body: dict[str, int] = {}
    for camp, idx in zip(campaigns, members_at, strict=True):
        cid = campaign_ids[camp.key]
        for j in idx.tolist():
            campaign_of_row[j] = cid
        template_body[cid] = int(body_no[row_of[camp.template_comment_id]])

    # 1. Labels: by text (every copy of a labeled text), except empty texts (not read or blank),
    #    whose label applies to that one comment (the analyst may have read its attachment).
    label_of_hash: dict[str, str] = {}
    label_of_row: dict[int, str] = {}
    example_of_hash: dict[str, tuple[int, str | None]] = {}  # hash -> (body, campaign) to train on
    check_of_hash: dict[str, tuple[int, str]] = {}  # hash -> (body, stance): measured on, never trained on
    for comment_id, stance, purpose in _labels(con, docket_id):
        i = row_of.get(comment_id)
        if i is None:
            continue  # labeled comment no longer in the docket
        b = int(body_no[i])
        if not bodies[b].strip():
            label_of_row[i] = stance
        elif purpose == "check":
            check_of_hash[hashes[b]] = (b, stance)
        else:
            label_of_hash[hashes[b]] = stance
            example_of_hash[hashes[b]] = (b, campaign_of_row.get(i))
    for h in set(check_of_hash) & set(label_of_hash):
        del check_of_hash[h]  # a text also labeled to train on: the model saw it, it cannot check it

    # 2. Model or rules. (scikit-learn is imported only here: `comments status` and the
    # other readers that import the analysis package should not pay its ~2 s start-up.)
    from comments.analysis import stance_model

    keys = sorted(example_of_hash)
    train_texts = [bodies[example_of_hash[h][0]] for h in keys]
    train_labels = [label_of_hash[h] for h in keys]
    groups = stance_model.label_groups((example_of_hash[h][1], h) for h in keys)
    notes: list[str] = []
    model = None
    evaluation = None
    if len(keys) >= stance_model.MIN_LABELS:
        evaluation = stance_model.evaluate(train_texts, train_labels, groups, extra_cues=extra_cues)
        if evaluation.accuracy is not None and evaluation.accuracy >= (evaluation.rules_accuracy or 0.0):
            model = stance_model.StanceModel(train_texts, train_labels, extra_cues=extra_cues)
        else:
            notes.append(f"stance model measured {evaluation.accuracy or 0:.2f} on {len(keys)} labels, "
                         f"the rules {evaluation.rules_accuracy or 0:.2f}: rules kept")
    elif keys:
        rule_hits = sum(1 for t, y in zip(train_texts, train_labels, strict=True) if rules_of_text(t).stance == y)
        evaluation = stance_model.Evaluation(len(keys), None, None, 0, rule_hits / len(keys),
                                             {c: train_labels.count(c) for c in sorted(set(train_labels))})

    # Check labels: the method just chosen, and the rules, scored on texts the model never saw.
    # When the rules were kept, a model on the same labels is still scored on the check labels
    # (reported beside the rules' figure, never used to choose: the choice stays the CV one).
    other_model = None
    if model is None and check_of_hash and evaluation is not None and evaluation.accuracy is not None:
        other_model = stance_model.StanceModel(train_texts, train_labels, extra_cues=extra_cues)
    check = _check(check_of_hash, bodies, model, rules_of_text, other_model)
    for h, (_, stance) in check_of_hash.items():
        label_of_hash[h] = stance

    # The distinct texts whose own stance is needed: singletons' texts and campaign templates.
    own_rows = np.flatnonzero(~in_campaign)
    needed = sorted(set(np.unique(body_no[own_rows]).tolist()) | set(template_body.values()))
    decided: dict[int, tuple[rules.Stance, str]] = {}
    to_model: list[int] = []
    for b in needed:
        text = bodies[b]
        label = label_of_hash.get(hashes[b]) if text.strip() else None
        if label is not None:
            by_rules = rules_of_text(text)
            evidence = by_rules.evidence if by_rules.stance == label else None
            decided[b] = (rules.Stance(label, 1.0, evidence, by_rules.support_score, by_rules.oppose_score), "analyst")
        elif model is not None and text.strip():
            to_model.append(b)
        else:
            decided[b] = (rules_of_text(text), "own")
    if to_model:
        texts = [bodies[b] for b in to_model]
        predicted = model.predict(texts)
        by_rules = [rules_of_text(t) for t in texts]
        need_evidence = [k for k, ((s, _), r) in enumerate(zip(predicted, by_rules, strict=True))
                         if s != "unclear" and r.stance != s]
        found = model.evidence([texts[k] for k in need_evidence], [predicted[k][0] for k in need_evidence])
        evidence_of = dict(zip(need_evidence, found, strict=True))
        for k, b in enumerate(to_model):
            s, p = predicted[k]
            r = by_rules[k]
            evidence = r.evidence if r.stance == s else evidence_of.get(k)
            decided[b] = (rules.Stance(s, round(p, 3), evidence, r.support_score, r.oppose_score), "model")

    # Per comment: interned outcomes (few distinct ones), campaign copies through their template.
    outcomes: list[tuple[rules.Stance, str]] = []
    index: dict[tuple[rules.Stance, str], int] = {}

    def number(outcome) -> int:
        k = index.get(outcome)
        if k is None:
            k = index[outcome] = len(outcomes)
            outcomes.append(outcome)
        return k

    row_stance = np.full(n, -1, dtype=np.int64)
    template_stance: dict[str, rules.Stance] = {}
    reader = rules.Reader(extra_cues)
    for camp, idx in zip(campaigns, members_at, strict=True):
        cid = campaign_ids[camp.key]
        tpl, _ = decided[template_body[cid]]
        tpl_row = row_of[camp.template_comment_id]
        if tpl.stance == "unclear" and unread_attachments[tpl_row]:
            tpl = NOT_READ_STANCE  # the template's position is likely in its unread attachment
        template_stance[cid] = tpl
        same = number((tpl, "template"))
        by_additions: dict[tuple[str, ...], int] = {}  # personalized copies often add the same sentences
        for j, m in zip(idx.tolist(), camp.members, strict=True):
            if m.is_exact or not m.unique_additions:
                row_stance[j] = same
                continue
            adds = tuple(m.unique_additions)
            k = by_additions.get(adds)
            if k is None:
                k = by_additions[adds] = number(rules.inherit(tpl, list(adds), reader=reader))
            row_stance[j] = k
    own_of_body = {b: number(decided[b]) for b in np.unique(body_no[own_rows]).tolist()}
    row_stance[own_rows] = np.array([own_of_body[b] for b in body_no[own_rows].tolist()], dtype=np.int64)

    # A label on a comment with nothing to read (its attachment, read by the analyst) wins.
    for i, stance in label_of_row.items():
        row_stance[i] = number((rules.Stance(stance, 1.0, None), "analyst"))
    # 3. Not read.
    unclear = np.array([o[0].stance == "unclear" for o in outcomes], dtype=bool)
    labeled_rows = np.zeros(n, dtype=bool)
    labeled_rows[list(label_of_row)] = True
    gone = (not_read | (unread_attachments & unclear[row_stance])) & ~labeled_rows
    if gone.any():
        row_stance[gone] = number((NOT_READ_STANCE, "not_read"))

    take = pa.array(row_stance)
    columns = {
        "stance": pa.array([o[0].stance for o in outcomes], pa.string()).take(take),
        "stance_confidence": pa.array([float(o[0].confidence) for o in outcomes], pa.float64()).take(take),
        "stance_evidence": pa.array([o[0].evidence for o in outcomes], pa.string()).take(take),
        "stance_source": pa.array([o[1] for o in outcomes], pa.string()).take(take),
    }
    model_row = {
        "docket_id": docket_id, "run_id": run_id,
        "method": "model" if model is not None else "rules",
        "n_labels": len(keys),
        "accuracy": (evaluation.accuracy if model is not None else evaluation.rules_accuracy) if evaluation else None,
        "accuracy_sd": evaluation.accuracy_sd if (evaluation and model is not None) else None,
        "folds": evaluation.folds if (evaluation and model is not None) else None,
        "rules_accuracy": evaluation.rules_accuracy if evaluation else None,
        "model_accuracy": evaluation.accuracy if evaluation else None,
        "classes": json.dumps(evaluation.classes if evaluation else {}),
        "note": "; ".join(notes) or None,
        "trained_at": now_utc(),
        **check,
    }
    return StanceResult(columns, template_stance, model_row, notes)


def _check(check_of_hash: Mapping[str, tuple[int, str]], bodies: Sequence[str], model, rules_of_text,
           other_model=None) -> dict:
    """The check labels' figures for the `stance_models` row (all None without check labels)."""
    if not check_of_hash:
        return {"check_n": None, "check_accuracy": None, "check_low": None, "check_high": None,
                "check_rules_accuracy": None, "check_model_accuracy": None}
    keys = sorted(check_of_hash)
    texts = [bodies[check_of_hash[h][0]] for h in keys]
    truth = [check_of_hash[h][1] for h in keys]

    def hits(predicted: Sequence[str]) -> int:
        return sum(1 for p, y in zip(predicted, truth, strict=True) if p == y)

    by_rules = [rules_of_text(t).stance for t in texts]
    scorer = model if model is not None else other_model
    by_model = [s for s, _ in scorer.predict(texts)] if scorer is not None else None
    right, n = hits(by_model if model is not None else by_rules), len(keys)
    low, high = wilson(right, n)
    return {"check_n": n, "check_accuracy": right / n, "check_low": low, "check_high": high,
            "check_rules_accuracy": hits(by_rules) / n,
            "check_model_accuracy": hits(by_model) / n if by_model is not None else None}
